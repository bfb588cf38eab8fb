// Text from the clusters (volume, image and snapshot names, error messages)
// on its way to a terminal or a table: a name may hold any byte, and an ESC
// sequence must not reach the terminal nor a newline split a row.
#pragma once

#include <string>
#include <string_view>

namespace rbdvol::cli {

// `text` with every control character made a visible escape: newline,
// carriage return and tab as backslash-n, -r, -t; ESC and the other C0
// controls and DEL as backslash-xNN ("\x1b"); the C1 controls U+0080..U+009F
// as backslash-u00NN; bytes that are not UTF-8 as backslash-xNN; and the
// backslash itself doubled, so that an escape cannot be faked. Printable
// UTF-8 passes unchanged.
std::string printable(std::string_view text);

}  // namespace rbdvol::cli
