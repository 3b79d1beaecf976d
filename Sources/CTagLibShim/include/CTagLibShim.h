#ifndef REPRISE_CTAGLIBSHIM_H
#define REPRISE_CTAGLIBSHIM_H

#include <tag_c.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Container kinds the shim recognises from TagLib's concrete file class.
typedef enum {
    RepriseTagLibKindUnknown = 0,
    RepriseTagLibKindMPEG,
    RepriseTagLibKindFLAC,
    RepriseTagLibKindOggVorbis,
    RepriseTagLibKindOggOpus,
    RepriseTagLibKindOggFLAC,
    RepriseTagLibKindMP4,
    RepriseTagLibKindWAV,
} RepriseTagLibKind;

/// Fields TagLib's 1.x C API does not expose. Strings are malloc'd UTF-8 (free with free()) or NULL.
typedef struct {
    RepriseTagLibKind kind;
    int lengthMs;        // -1 when unknown
    int discNumber;      // 0 when absent
    char *albumArtist;   // NULL when absent or empty
} RepriseTagLibExtras;

/// Fills `out` from a file opened with taglib_file_new; returns 0 on success, -1 on a NULL or invalid file.
int reprise_taglib_extras(const TagLib_File *file, RepriseTagLibExtras *out);

#ifdef __cplusplus
}
#endif

#endif
