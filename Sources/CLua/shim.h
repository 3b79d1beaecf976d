// Lua 5.4 C API as installed by Debian's liblua5.4-dev.
#ifndef REPRISE_CLUA_SHIM_H
#define REPRISE_CLUA_SHIM_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

#endif
