// Reads what TagLib's C API lacks (album artist, disc, millisecond length, file kind)
// from the TagLib::File behind a TagLib_File handle.
#include "CTagLibShim.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

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
#include <id3v2tag.h>
#include <attachedpictureframe.h>
#include <flacpicture.h>
#include <xiphcomment.h>
#include <mp4coverart.h>
#include <mp4tag.h>

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

// A picture found in a file: its bytes, its MIME type, whether it is marked as the front cover.
struct Found {
    TagLib::ByteVector data;
    std::string mime;
    bool front = false;
};

void consider(std::vector<Found> &out, const TagLib::ByteVector &data, const TagLib::String &mime, bool front) {
    if (data.isEmpty()) return;
    out.push_back(Found{data, mime.to8Bit(), front});
}

void fromID3(TagLib::ID3v2::Tag *tag, std::vector<Found> &out) {
    if (tag == NULL) return;
    const TagLib::ID3v2::FrameList &frames = tag->frameListMap()["APIC"];
    for (TagLib::ID3v2::FrameList::ConstIterator it = frames.begin(); it != frames.end(); ++it) {
        TagLib::ID3v2::AttachedPictureFrame *f = dynamic_cast<TagLib::ID3v2::AttachedPictureFrame *>(*it);
        if (f) consider(out, f->picture(), f->mimeType(), f->type() == TagLib::ID3v2::AttachedPictureFrame::FrontCover);
    }
}

void fromPictures(const TagLib::List<TagLib::FLAC::Picture *> &pictures, std::vector<Found> &out) {
    for (TagLib::List<TagLib::FLAC::Picture *>::ConstIterator it = pictures.begin(); it != pictures.end(); ++it) {
        consider(out, (*it)->data(), (*it)->mimeType(), (*it)->type() == TagLib::FLAC::Picture::FrontCover);
    }
}

// Every embedded picture of the file, in the order the tags hold them.
std::vector<Found> pictures(TagLib::File *file) {
    std::vector<Found> out;
    if (TagLib::MPEG::File *f = dynamic_cast<TagLib::MPEG::File *>(file)) {
        if (f->hasID3v2Tag()) fromID3(f->ID3v2Tag(), out);
    } else if (TagLib::FLAC::File *f = dynamic_cast<TagLib::FLAC::File *>(file)) {
        fromPictures(f->pictureList(), out);
        if (out.empty() && f->hasXiphComment()) fromPictures(f->xiphComment()->pictureList(), out);
        if (out.empty() && f->hasID3v2Tag()) fromID3(f->ID3v2Tag(), out);
    } else if (TagLib::Ogg::Vorbis::File *f = dynamic_cast<TagLib::Ogg::Vorbis::File *>(file)) {
        if (f->tag()) fromPictures(f->tag()->pictureList(), out);
    } else if (TagLib::Ogg::Opus::File *f = dynamic_cast<TagLib::Ogg::Opus::File *>(file)) {
        if (f->tag()) fromPictures(f->tag()->pictureList(), out);
    } else if (TagLib::MP4::File *f = dynamic_cast<TagLib::MP4::File *>(file)) {
        TagLib::MP4::Tag *tag = f->tag();
        if (tag && tag->contains("covr")) {
            TagLib::MP4::CoverArtList covers = tag->item("covr").toCoverArtList();
            for (TagLib::MP4::CoverArtList::ConstIterator it = covers.begin(); it != covers.end(); ++it) {
                const char *mime = it->format() == TagLib::MP4::CoverArt::PNG ? "image/png" : it->format() == TagLib::MP4::CoverArt::BMP ? "image/bmp" : it->format() == TagLib::MP4::CoverArt::GIF ? "image/gif" : "image/jpeg";
                consider(out, it->data(), mime, true);
            }
        }
    } else if (TagLib::RIFF::WAV::File *f = dynamic_cast<TagLib::RIFF::WAV::File *>(file)) {
        if (f->hasID3v2Tag()) fromID3(f->ID3v2Tag(), out);
    }
    return out;
}

}  // namespace

extern "C" int reprise_taglib_extras(const TagLib_File *handle, RepriseTagLibExtras *out) {
    if (out == NULL) return -1;
    out->kind = RepriseTagLibKindUnknown;
    out->lengthMs = -1;
    out->discNumber = 0;
    out->albumArtist = NULL;
    out->hasPicture = 0;
    if (handle == NULL) return -1;
    TagLib::File *file = underlyingFile(handle);
    if (file == NULL || !file->isValid()) return -1;

    out->kind = kindOf(file);
    out->hasPicture = pictures(file).empty() ? 0 : 1;
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

extern "C" int reprise_taglib_picture(const char *path, unsigned char **data, size_t *length, char *mime, size_t mimeCapacity) {
    if (path == NULL || data == NULL || length == NULL || mime == NULL || mimeCapacity == 0) return -1;
    *data = NULL;
    *length = 0;
    mime[0] = 0;
    TagLib::FileRef ref(path, false);
    TagLib::File *file = ref.file();
    if (file == NULL || !file->isValid()) return -1;
    std::vector<Found> found = pictures(file);
    if (found.empty()) return 1;
    const Found *pick = &found[0];
    for (size_t i = 0; i < found.size(); i++) {
        if (found[i].front) { pick = &found[i]; break; }
    }
    unsigned char *copy = static_cast<unsigned char *>(::malloc(pick->data.size()));
    if (copy == NULL) return -1;
    ::memcpy(copy, pick->data.data(), pick->data.size());
    *data = copy;
    *length = pick->data.size();
    ::strncpy(mime, pick->mime.c_str(), mimeCapacity - 1);
    mime[mimeCapacity - 1] = 0;
    return 0;
}

extern "C" char *reprise_taglib_lyrics(const char *path) {
    if (path == NULL) return NULL;
    TagLib::FileRef ref(path, false);
    TagLib::File *file = ref.file();
    if (file == NULL || !file->isValid()) return NULL;
    TagLib::PropertyMap map = file->properties();
    TagLib::String text = firstValue(map, "LYRICS");
    if (text.isEmpty()) text = firstValue(map, "UNSYNCEDLYRICS");
    if (text.isEmpty()) return NULL;
    return ::strdup(text.toCString(true));
}
