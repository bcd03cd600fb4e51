// Writing output files so that a reader (or a run that is interrupted) never sees part of one:
// the text goes to a hidden temporary file beside the target, then a rename puts it in place.
#pragma once

#include <filesystem>
#include <string>

namespace nibble {

// The temporary beside `target`: ".<name>.<host>-<pid>.tmp", named for this process on this
// machine so that processes writing the same file at once (sweep shards, on one machine or on
// several sharing a file system) do not collide.
std::filesystem::path temporary_beside(const std::filesystem::path& target);

// Writes `text` to temporary_beside(target) and returns that path, for outputs renamed into place
// together later. Throws InputError naming `target`, leaving no temporary, when it cannot.
std::filesystem::path write_temporary(const std::filesystem::path& target, const std::string& text);

// Renames `tmp` onto `target`. Throws InputError naming `target`, removing `tmp`, when it cannot.
void rename_into_place(const std::filesystem::path& tmp, const std::filesystem::path& target);

// Both: `target` holds either what it held before or all of `text`.
void write_file_atomically(const std::filesystem::path& target, const std::string& text);

}  // namespace nibble
