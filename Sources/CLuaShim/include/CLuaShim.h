// C helpers for LuaHost: Lua macros Swift cannot import, the counting allocator, the
// instruction-budget hook, and trampolines that raise Lua errors from C, never across Swift frames.
#ifndef REPRISE_CLUA_SHIM_PUBLIC_H
#define REPRISE_CLUA_SHIM_PUBLIC_H

#include <stddef.h>
#include <stdint.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

/// Calls a host function on behalf of Lua; returns the number of results pushed, or -1 with an
/// error message on top of the stack (the trampoline then raises it from C).
typedef int (*reprise_dispatch_fn)(lua_State *L, void *owner, lua_Integer function_id);

/// Fills field `key` (a stack index; 0 for every field) of the hook context at stack index
/// `table`; returns 0, or -1 with an error message on top of the stack (raised from C).
typedef int (*reprise_context_fn)(lua_State *L, void *owner, int table, int key);

/// Per-VM state shared by the allocator, the hook and the trampolines.
typedef struct reprise_vm {
    size_t used;              // bytes currently allocated by Lua
    size_t limit;             // allocation cap while `enforce` is set
    size_t peak;              // highest `used` seen
    int enforce;              // 1 while Lua code runs; 0 while the host pushes values
    int exhausted;            // 1 once the current call ran out of instructions
    long long remaining;      // instructions left in the current call
    int step;                 // hook period while the budget is not exhausted
    unsigned long long deadline_ns; // CLOCK_MONOTONIC time the current call must end by; 0: none
    int deadline_passed;      // 1 once the current call ran past its deadline
    reprise_dispatch_fn dispatch;
    reprise_context_fn context;
    void *owner;              // the Swift LuaVM, unretained
} reprise_vm;

/// Creates a state whose allocator and hook use `vm`; NULL when allocation fails.
lua_State *reprise_newstate(reprise_vm *vm);
/// Returns the reprise_vm a state (or any of its threads) was created with.
reprise_vm *reprise_vm_of(lua_State *L);
/// Closes a state; finalizers still run but every Lua instruction fails immediately.
void reprise_close(lua_State *L);

/// Opens base, string, table, math, utf8, coroutine and os; nothing else.
void reprise_open_allowed_libs(lua_State *L);

/// Starts a fresh instruction budget and a deadline `deadline_ms` from now (0: none) for a top-level call.
void reprise_budget_reset(lua_State *L, long long budget, long long deadline_ms);
/// Charges `n` instructions of C work (pattern matching) to the budget and checks the deadline;
/// returns nonzero when either is gone (the caller raises; the hook then fires on every instruction).
int reprise_budget_charge(lua_State *L, long long n);
/// Replaces string.find, match, gmatch and gsub with matchers that count against the budget.
void reprise_install_patterns(lua_State *L);
/// Runs lua_pcall with the memory cap enforced; returns the Lua status code.
int reprise_pcall(lua_State *L, int nargs, int nresults);

/// Pushes a C closure that forwards to the VM's dispatch function with `function_id`.
void reprise_push_host_function(lua_State *L, lua_Integer function_id);
/// lua_CFunction: (dir, relpath [, env]) -> chunk | nil, message, kind ("open" or "syntax").
int reprise_loadfile_in(lua_State *L);

/// Creates the metatable of hook contexts whose fields are filled on first read.
void reprise_context_install(lua_State *L);
/// Pushes an empty hook context with room for `fields` fields.
void reprise_push_context(lua_State *L, int fields);
/// Fills every field if the table at `idx` is a hook context (for host conversions); never raises.
void reprise_context_prepare(lua_State *L, int idx);
/// lua_CFunction: `next` that fills a hook context before the first key.
int reprise_next(lua_State *L);
/// lua_CFunction: `rawget` that fills the field of a hook context it asks for.
int reprise_rawget(lua_State *L);

/// Loads a text chunk from memory; returns the Lua status code.
int reprise_loadtext(lua_State *L, const char *text, size_t len, const char *chunkname);

// Macro wrappers.
int reprise_registryindex(void);
int reprise_upvalueindex(int i);
void reprise_pop(lua_State *L, int n);
void reprise_newtable(lua_State *L);
const char *reprise_tostring(lua_State *L, int idx, size_t *len);
lua_Integer reprise_tointeger(lua_State *L, int idx);
lua_Number reprise_tonumber(lua_State *L, int idx);
int reprise_isnil(lua_State *L, int idx);
void reprise_call(lua_State *L, int nargs, int nresults);
const char *reprise_release(void);
int reprise_multret(void);

#endif
