#pragma once
// skopeo's `copy --multi-arch` and `--all`, mapped onto syncer's platform filters.
#include <string>
#include <vector>

namespace syncer {

/// The platform this syncer was built for, as skopeo names it (`linux/amd64`, `linux/arm64/v8`,
/// `linux/arm/v7`): what `--multi-arch system` keeps.
std::string this_machine_platform();

/// The `--platform` filters that `--multi-arch MODE` means: none for `all` (every platform, syncer's
/// default), this_machine_platform() for `system`. `index-only` and anything else throw usage_error saying
/// why (see the definition).
std::vector<std::string> multi_arch_platforms(const std::string& mode);

} // namespace syncer
