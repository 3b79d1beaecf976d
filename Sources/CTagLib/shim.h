// TagLib's C API (libtagc0-dev); the include path comes from pkg-config `taglib_c`.
#include <tag_c.h>
