// C side of LuaHost. Lua errors are raised only here (lua_error longjmps), never across Swift
// frames. Comments of the form [a b c] give the Lua stack after a call, top on the right.
#include "CLuaShim.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// MARK: Allocator

// Counts every byte Lua holds and refuses growth beyond the cap while Lua code runs.
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    reprise_vm *vm = (reprise_vm *)ud;
    size_t old = ptr ? osize : 0; // when ptr is NULL, osize encodes an object type, not a size
    if (nsize == 0) {
        free(ptr);
        vm->used -= old;
        return NULL;
    }
    if (nsize > old && vm->enforce && vm->used - old + nsize > vm->limit) {
        return NULL; // Lua runs an emergency GC, retries, then raises "not enough memory"
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    vm->used = vm->used - old + nsize;
    if (vm->used > vm->peak) vm->peak = vm->used;
    return p;
}

lua_State *reprise_newstate(reprise_vm *vm) {
    lua_State *L = lua_newstate(counting_alloc, vm); // []
    // Hook calls leave short-lived tables behind; the generational collector handles them cheaply.
    if (L) lua_gc(L, LUA_GCGEN, 0, 0);
    return L;
}

reprise_vm *reprise_vm_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud); // every thread of a state shares the allocator's ud
    return (reprise_vm *)ud;
}

// MARK: Budget hook

static unsigned long long monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

// Marks the call as over: from now on the hook fires on every instruction of the thread.
static void exhaust(lua_State *L, reprise_vm *vm) {
    vm->exhausted = 1;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
}

// Counts instructions in `step` batches and checks the deadline; once either is gone it fires on
// every instruction of the thread and raises each time, so a pcall loop cannot swallow the error
// (as Redis does).
static void budget_hook(lua_State *L, lua_Debug *ar) {
    reprise_vm *vm = reprise_vm_of(L);
    if (!vm->exhausted) {
        vm->remaining -= lua_gethookcount(L);
        if (vm->deadline_ns != 0 && monotonic_ns() > vm->deadline_ns) vm->deadline_passed = 1;
        if (vm->remaining > 0 && !vm->deadline_passed) {
            if (lua_gethookcount(L) != vm->step) lua_sethook(L, budget_hook, LUA_MASKCOUNT, vm->step);
            return;
        }
        exhaust(L, vm);
    }
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    const char *what = vm->deadline_passed ? "deadline passed" : "instruction budget exceeded";
    lua_getinfo(L, "Sl", ar);
    if (ar->currentline > 0) {
        lua_pushfstring(L, "%s:%d: %s", ar->short_src, ar->currentline, what); // [.. msg]
    } else {
        lua_pushstring(L, what); // [.. msg]
    }
    lua_error(L); // unwinds to the nearest pcall
}

int reprise_budget_charge(lua_State *L, long long n) {
    reprise_vm *vm = reprise_vm_of(L);
    if (vm->exhausted) return 1;
    vm->remaining -= n;
    if (vm->deadline_ns != 0 && monotonic_ns() > vm->deadline_ns) vm->deadline_passed = 1;
    if (vm->remaining > 0 && !vm->deadline_passed) return 0;
    exhaust(L, vm);
    return 1;
}

void reprise_budget_reset(lua_State *L, long long budget, long long deadline_ms) {
    reprise_vm *vm = reprise_vm_of(L);
    if (budget < 1) budget = 1;
    vm->remaining = budget;
    vm->exhausted = 0;
    vm->deadline_passed = 0;
    vm->deadline_ns = deadline_ms > 0 ? monotonic_ns() + (unsigned long long)deadline_ms * 1000000ull : 0;
    vm->step = budget < 1000 ? (int)budget : 1000;
    // Threads created from now on (coroutines) inherit this hook from the creating thread.
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, vm->step);
}

void reprise_close(lua_State *L) {
    reprise_vm *vm = reprise_vm_of(L);
    vm->enforce = 0;
    vm->exhausted = 1; // finalizers run in protected mode; each fails on its first instruction
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    lua_close(L);
}

// MARK: Libraries

void reprise_open_allowed_libs(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_OSLIBNAME, luaopen_os},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1); // [lib]; also stored as a global
        lua_pop(L, 1);                              // []
    }
    reprise_install_patterns(L);
}

// MARK: Calls

// Message handler: gives a position to errors that carry none (a table raised with error({}),
// a yield outside a coroutine, other errors raised from C), from the nearest Lua frame.
static int locate_error(lua_State *L) {
    lua_Debug ar;
    int is_string = lua_type(L, 1) == LUA_TSTRING;
    if (is_string) {
        if (!lua_getstack(L, 1, &ar)) return 1;
        lua_getinfo(L, "Sn", &ar);
        // Lua code and error() position their own messages.
        if (ar.what[0] != 'C' || (ar.name != NULL && strcmp(ar.name, "error") == 0)) return 1;
    }
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0) continue;
        if (is_string) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, lua_tostring(L, 1)); // [err msg]
        } else {
            lua_pushfstring(L, "%s:%d: (error object is a %s value)", ar.short_src, ar.currentline, luaL_typename(L, 1)); // [err msg]
        }
        return 1;
    }
    return 1;
}

int reprise_pcall(lua_State *L, int nargs, int nresults) {
    reprise_vm *vm = reprise_vm_of(L);
    int saved = vm->enforce;
    int handler = lua_gettop(L) - nargs; // the function's slot
    lua_pushcfunction(L, locate_error);  // [fn args... h]
    lua_insert(L, handler);              // [h fn args...]
    vm->enforce = 1;
    int status = lua_pcall(L, nargs, nresults, handler); // [h results...] or [h error]
    vm->enforce = saved;
    lua_remove(L, handler);              // [results...] or [error]
    return status;
}

// Raises a memory error if Swift's pushes took Lua over its cap while Lua code runs.
static void check_cap(lua_State *L, reprise_vm *vm, int enforced) {
    if (enforced && vm->used > vm->limit) {
        // Allocating while over the cap fails after an emergency GC, raising a real memory error.
        lua_newuserdatauv(L, 0, 0); // [.. udata]
        lua_pop(L, 1);              // [..]
    }
}

// Forwards a Lua call to Swift; Swift returns a count or -1 and this function raises, from C.
static int host_trampoline(lua_State *L) {
    reprise_vm *vm = reprise_vm_of(L);
    lua_Integer id = lua_tointeger(L, lua_upvalueindex(1));
    int saved = vm->enforce;
    vm->enforce = 0; // Swift pushes results without risking a longjmp; the cap is checked below
    int n = vm->dispatch(L, vm->owner, id); // [args... results...] or [args... message]
    vm->enforce = saved;
    if (n < 0) return lua_error(L);
    check_cap(L, vm, saved);
    return n;
}

// MARK: Hook contexts

// A hook's context is a table whose fields Swift fills when Lua first reads them, so a policy
// that reads nothing costs one empty table. The metatable is shared and locked.
static const char context_key = 'c'; // registry slot of the metatable: its address

static int is_context(lua_State *L, int idx) {
    if (!lua_getmetatable(L, idx)) return 0;          // [.. mt]
    lua_rawgetp(L, LUA_REGISTRYINDEX, &context_key);  // [.. mt cmt]
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);                                     // [..]
    return same;
}

// Asks Swift to fill field `key` (0: all) of the context at `table`; raises Swift's error.
static void context_fill(lua_State *L, int table, int key) {
    reprise_vm *vm = reprise_vm_of(L);
    int saved = vm->enforce;
    vm->enforce = 0;
    int status = vm->context(L, vm->owner, table, key); // [..] or [.. message]
    vm->enforce = saved;
    if (status < 0) lua_error(L);
    check_cap(L, vm, saved);
}

static int raw_next(lua_State *L) {
    lua_settop(L, 2);          // [t k]
    if (lua_next(L, 1)) return 2; // [t k v]
    lua_pushnil(L);
    return 1;
}

static int context_index(lua_State *L) {
    lua_settop(L, 2);       // [t k]
    context_fill(L, 1, 2);  // [t k]
    lua_rawget(L, 1);       // [t v]
    return 1;
}

static int context_pairs(lua_State *L) {
    context_fill(L, 1, 0);
    lua_pushcfunction(L, raw_next); // [t next]
    lua_pushvalue(L, 1);            // [t next t]
    lua_pushnil(L);                 // [t next t nil]
    return 3;
}

void reprise_context_install(lua_State *L) {
    lua_createtable(L, 0, 3);                  // [mt]
    lua_pushcfunction(L, context_index);       // [mt f]
    lua_setfield(L, -2, "__index");            // [mt]
    lua_pushcfunction(L, context_pairs);       // [mt f]
    lua_setfield(L, -2, "__pairs");            // [mt]
    lua_pushboolean(L, 0);                     // [mt false]
    lua_setfield(L, -2, "__metatable");        // [mt]; getmetatable gives false, setmetatable fails
    lua_rawsetp(L, LUA_REGISTRYINDEX, &context_key); // []
}

void reprise_push_context(lua_State *L, int fields) {
    lua_createtable(L, 0, fields);                   // [t]
    lua_rawgetp(L, LUA_REGISTRYINDEX, &context_key); // [t mt]
    lua_setmetatable(L, -2);                         // [t]
}

void reprise_context_prepare(lua_State *L, int idx) {
    if (!is_context(L, idx)) return;
    reprise_vm *vm = reprise_vm_of(L);
    int top = lua_gettop(L);
    int saved = vm->enforce;
    vm->enforce = 0;
    vm->context(L, vm->owner, lua_absindex(L, idx), 0);
    vm->enforce = saved;
    lua_settop(L, top); // drops an error message, if any
}

int reprise_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2); // [t k]
    if (is_context(L, 1)) context_fill(L, 1, 0);
    return raw_next(L);
}

int reprise_rawget(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2); // [t k]
    if (is_context(L, 1)) context_fill(L, 1, 2);
    lua_rawget(L, 1); // [t v]
    return 1;
}

void reprise_push_host_function(lua_State *L, lua_Integer function_id) {
    lua_pushinteger(L, function_id);           // [id]
    lua_pushcclosure(L, host_trampoline, 1);   // [closure]
}

// MARK: Loading

// Pushes nil, a formatted message and a kind, and returns 3 (the Lua "nil, err" convention).
static int load_failure(lua_State *L, const char *kind, const char *fmt, ...) {
    va_list ap;
    lua_pushnil(L);                 // [.. nil]
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);   // [.. nil msg]
    va_end(ap);
    lua_pushstring(L, kind);        // [.. nil msg kind]
    return 3;
}

typedef struct {
    FILE *file;
    char buffer[4096];
} file_reader;

static const char *read_file_chunk(lua_State *L, void *ud, size_t *size) {
    (void)L;
    file_reader *reader = (file_reader *)ud;
    *size = fread(reader->buffer, 1, sizeof reader->buffer, reader->file);
    return *size > 0 ? reader->buffer : NULL;
}

int reprise_loadfile_in(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    const char *rel = luaL_checkstring(L, 2);
    int has_env = !lua_isnoneornil(L, 3);
    lua_settop(L, 3); // [dir rel env]

    char root[PATH_MAX], full[PATH_MAX], resolved[PATH_MAX];
    if (realpath(dir, root) == NULL) {
        return load_failure(L, "open", "cannot open %s: %s", dir, strerror(errno));
    }
    int written = snprintf(full, sizeof full, "%s/%s", dir, rel);
    if (written < 0 || (size_t)written >= sizeof full) {
        return load_failure(L, "open", "path too long: %s", rel);
    }
    if (realpath(full, resolved) == NULL) {
        return load_failure(L, "open", "cannot open %s: %s", full, strerror(errno));
    }
    size_t n = strlen(root);
    int inside = strncmp(resolved, root, n) == 0 && (resolved[n] == '/' || (n == 1 && root[0] == '/'));
    if (!inside) {
        return load_failure(L, "open", "%s resolves outside the plugin directory", full);
    }

    file_reader reader;
    reader.file = fopen(resolved, "rb");
    if (reader.file == NULL) {
        return load_failure(L, "open", "cannot open %s: %s", full, strerror(errno));
    }
    lua_pushfstring(L, "@%s", full); // [dir rel env chunkname]
    int status = lua_load(L, read_file_chunk, &reader, lua_tostring(L, -1), "t"); // [dir rel env chunkname fn|msg]
    int read_error = ferror(reader.file);
    fclose(reader.file);
    if (read_error) {
        return load_failure(L, "open", "cannot read %s", full);
    }
    if (status != LUA_OK) {
        lua_pushnil(L);              // [.. msg nil]
        lua_insert(L, -2);           // [.. nil msg]
        lua_pushliteral(L, "syntax"); // [.. nil msg "syntax"]
        return 3;
    }
    if (has_env) {
        lua_pushvalue(L, 3);                 // [.. fn env]
        if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1); // [.. fn]; upvalue 1 of a main chunk is _ENV
    }
    return 1;
}

int reprise_loadtext(lua_State *L, const char *text, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, text, len, chunkname, "t"); // [fn] or [msg]
}

// MARK: Macro wrappers

int reprise_registryindex(void) { return LUA_REGISTRYINDEX; }
int reprise_upvalueindex(int i) { return lua_upvalueindex(i); }
void reprise_pop(lua_State *L, int n) { lua_pop(L, n); }
void reprise_newtable(lua_State *L) { lua_newtable(L); }
const char *reprise_tostring(lua_State *L, int idx, size_t *len) { return lua_tolstring(L, idx, len); }
lua_Integer reprise_tointeger(lua_State *L, int idx) { return lua_tointeger(L, idx); }
lua_Number reprise_tonumber(lua_State *L, int idx) { return lua_tonumber(L, idx); }
int reprise_isnil(lua_State *L, int idx) { return lua_isnil(L, idx); }
void reprise_call(lua_State *L, int nargs, int nresults) { lua_call(L, nargs, nresults); }
const char *reprise_release(void) { return LUA_RELEASE; }
int reprise_multret(void) { return LUA_MULTRET; }
