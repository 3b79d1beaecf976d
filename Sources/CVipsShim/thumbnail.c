// Scales cover art with libvips: shrink-on-load for JPEG and WebP, low memory, thread-safe.
#include "CVipsShim.h"

#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

static void take_error(char *error, size_t capacity) {
    if (error == NULL || capacity == 0) return;
    const char *text = vips_error_buffer();
    strncpy(error, text ? text : "libvips failed", capacity - 1);
    error[capacity - 1] = 0;
    // vips keeps one error buffer per process; a message may mix concurrent failures, never crash.
    vips_error_clear();
}

int reprise_vips_start(void) {
    if (VIPS_INIT("reprise") != 0) return -1;
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    return 0;
}

int reprise_vips_thumbnail(const void *in, size_t inLength, int size, void **out, size_t *outLength, int *isPNG, char *error, size_t errorCapacity) {
    if (in == NULL || inLength == 0 || size <= 0 || out == NULL || outLength == NULL || isPNG == NULL) return -1;
    *out = NULL;
    *outLength = 0;
    *isPNG = 0;
    VipsImage *thumb = NULL;
    if (vips_thumbnail_buffer((void *)in, inLength, &thumb, size, "height", size, "size", VIPS_SIZE_DOWN, NULL) != 0) {
        take_error(error, errorCapacity);
        return -1;
    }
    int alpha = vips_image_hasalpha(thumb);
    int rc = alpha ? vips_pngsave_buffer(thumb, out, outLength, "strip", TRUE, NULL)
                   : vips_jpegsave_buffer(thumb, out, outLength, "Q", 85, "strip", TRUE, NULL);
    g_object_unref(thumb);
    if (rc != 0) {
        take_error(error, errorCapacity);
        return -1;
    }
    *isPNG = alpha ? 1 : 0;
    return 0;
}

int reprise_vips_dimensions(const void *in, size_t inLength, int *width, int *height) {
    if (in == NULL || inLength == 0 || width == NULL || height == NULL) return -1;
    VipsImage *image = vips_image_new_from_buffer(in, inLength, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (image == NULL) {
        vips_error_clear();
        return -1;
    }
    *width = vips_image_get_width(image);
    *height = vips_image_get_height(image);
    g_object_unref(image);
    return 0;
}

void reprise_vips_free(void *p) { g_free(p); }
