#pragma once
// Drop-in image-syncer: installed as (or linked to) `image-syncer`, syncer takes image-syncer v1.5's command
// line and exit statuses, so scripts and images that call image-syncer switch without edits.
#include <string_view>

namespace syncer {

/// Whether argv[0] names image-syncer (its basename is `image-syncer`, as through a symlink).
bool invoked_as_image_syncer(std::string_view argv0) noexcept;

/// Runs `syncer sync` from image-syncer's flags. Returns 0, or 255 for any failure (bad flags or files,
/// failed images), as image-syncer's `os.Exit(-1)` does.
int run_image_syncer(int argc, char** argv);

} // namespace syncer
