#ifndef REPRISE_CTAGLIBSHIM_H
#define REPRISE_CTAGLIBSHIM_H

#include <stddef.h>
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
    int hasPicture;      // 1 when the file embeds a picture (ID3 APIC, FLAC/Vorbis PICTURE, MP4 covr)
} RepriseTagLibExtras;

/// Fills `out` from a file opened with taglib_file_new; returns 0 on success, -1 on a NULL or invalid file.
int reprise_taglib_extras(const TagLib_File *file, RepriseTagLibExtras *out);

/// Reads the embedded picture of `path` (the front cover if marked, else the first) into a malloc'd
/// buffer `*data` of `*length` bytes with its MIME type in `mime` (at most `mimeCapacity` bytes, NUL
/// terminated). Returns 0 on success, 1 when the file has no picture, -1 when it cannot be read.
int reprise_taglib_picture(const char *path, unsigned char **data, size_t *length, char *mime, size_t mimeCapacity);

/// The unsynchronised lyrics embedded in `path` (ID3 USLT, Vorbis LYRICS or UNSYNCEDLYRICS, MP4 ©lyr),
/// malloc'd UTF-8 (free with free()), or NULL when there are none or the file cannot be read.
char *reprise_taglib_lyrics(const char *path);

#ifdef __cplusplus
}
#endif

#endif
