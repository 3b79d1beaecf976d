// libmpdclient (libmpdclient-dev); the include path comes from pkg-config `libmpdclient`.
#include <mpd/client.h>
#include <stdio.h>

// Sends "seek POS SECONDS" with millisecond precision (libmpdclient 2.20 seeks by position in whole seconds only).
static inline bool cmpd_send_seek_pos_ms(struct mpd_connection *connection, unsigned pos, unsigned ms) {
    char p[16], t[32];
    snprintf(p, sizeof p, "%u", pos);
    snprintf(t, sizeof t, "%u.%03u", ms / 1000, ms % 1000);
    return mpd_send_command(connection, "seek", p, t, (const char *)NULL);
}
