// Reads what TagLib's C API lacks (album artist, disc, millisecond length, file kind)
// from the TagLib::File behind a TagLib_File handle.
#include "CTagLibShim.h"

#include <cstdlib>
#include <cstring>

#include <taglib.h>
#include <tfile.h>
#include <fileref.h>
#include <tpropertymap.h>
#include <audioproperties.h>
#include <mpegfile.h>
#include <flacfile.h>
#include <vorbisfile.h>
#include <opusfile.h>
#include <oggflacfile.h>
#include <mp4file.h>
#include <wavfile.h>

namespace {

// tag_c.cpp casts a TagLib::File* (1.x) or a TagLib::FileRef* (2.x) to TagLib_File*.
TagLib::File *underlyingFile(const TagLib_File *handle) {
#if TAGLIB_MAJOR_VERSION >= 2
    const TagLib::FileRef *ref = reinterpret_cast<const TagLib::FileRef *>(handle);
    return ref->file();
#else
    return reinterpret_cast<TagLib::File *>(const_cast<TagLib_File *>(handle));
#endif
}

RepriseTagLibKind kindOf(TagLib::File *file) {
    if (dynamic_cast<TagLib::MPEG::File *>(file)) return RepriseTagLibKindMPEG;
    if (dynamic_cast<TagLib::FLAC::File *>(file)) return RepriseTagLibKindFLAC;
    if (dynamic_cast<TagLib::Ogg::Vorbis::File *>(file)) return RepriseTagLibKindOggVorbis;
    if (dynamic_cast<TagLib::Ogg::Opus::File *>(file)) return RepriseTagLibKindOggOpus;
    if (dynamic_cast<TagLib::Ogg::FLAC::File *>(file)) return RepriseTagLibKindOggFLAC;
    if (dynamic_cast<TagLib::MP4::File *>(file)) return RepriseTagLibKindMP4;
    if (dynamic_cast<TagLib::RIFF::WAV::File *>(file)) return RepriseTagLibKindWAV;
    return RepriseTagLibKindUnknown;
}

// First value of a property, or an empty string.
TagLib::String firstValue(const TagLib::PropertyMap &map, const char *key) {
    TagLib::PropertyMap::ConstIterator it = map.find(key);
    if (it == map.end() || it->second.isEmpty()) return TagLib::String();
    return it->second.front();
}

}  // namespace

extern "C" int reprise_taglib_extras(const TagLib_File *handle, RepriseTagLibExtras *out) {
    if (out == NULL) return -1;
    out->kind = RepriseTagLibKindUnknown;
    out->lengthMs = -1;
    out->discNumber = 0;
    out->albumArtist = NULL;
    if (handle == NULL) return -1;
    TagLib::File *file = underlyingFile(handle);
    if (file == NULL || !file->isValid()) return -1;

    out->kind = kindOf(file);
    if (TagLib::AudioProperties *props = file->audioProperties()) {
        out->lengthMs = props->lengthInMilliseconds();
    }

    TagLib::PropertyMap map = file->properties();
    TagLib::String albumArtist = firstValue(map, "ALBUMARTIST");
    if (!albumArtist.isEmpty()) {
        out->albumArtist = ::strdup(albumArtist.toCString(true));
    }
    // "2/3" and "2" both yield 2; toInt stops at the first non-digit.
    TagLib::String disc = firstValue(map, "DISCNUMBER");
    if (!disc.isEmpty()) {
        int n = std::atoi(disc.toCString(false));
        out->discNumber = n > 0 ? n : 0;
    }
    return 0;
}
