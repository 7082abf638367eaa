#pragma once
// Command-line parse errors, reported without echoing what was typed: an unexpected argument may be a
// password (`--dest-cred user:S3cretPW`, a mistyped `--dest-creds`), and CLI11's own message quotes it.
#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace syncer {

/// The message for arguments the command did not expect (`extras`, as typed), given the flags the command
/// has (`--name` forms). Only what is surely a flag name is named: `--name` (`--name=...` for `--name=value`)
/// or `-x`; every other argument is counted, never shown. Each unknown flag gets the closest known one (by
/// edit distance, or the flags it is a prefix or suffix of: `--creds` -> `--src-creds or --dest-creds`).
std::string unexpected_arguments_message(const std::vector<std::string>& extras,
                                         const std::vector<std::string>& known_flags);

/// Up to three flags of `known_flags` that `typed` (`--name`) was probably meant to be, best first.
std::vector<std::string> closest_flags(std::string_view typed, const std::vector<std::string>& known_flags);

/// Reports a CLI11 parse error of `app` on stderr, prefixed with `program` ("syncer", "image-syncer"): an
/// ExtrasError through unexpected_arguments_message (the flags of the subcommand that was chosen, and the
/// program's own), any other error with CLI11's text scrubbed of known secrets.
void report_parse_error(const CLI::App& app, const CLI::ParseError& e, std::string_view program);

} // namespace syncer
