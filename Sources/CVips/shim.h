// libvips (libvips-dev); include paths come from pkg-config `vips`. Swift uses it only through CVipsShim.
#include <vips/vips.h>
