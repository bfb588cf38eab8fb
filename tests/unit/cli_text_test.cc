// What the rbdvol command prints and how it exits: pure functions.
#include <catch2/catch.hpp>

#include <cerrno>

#include "cli/exit_status.h"
#include "cli/terminal_text.h"

using namespace rbdvol::cli;

TEST_CASE("each errno of a failure maps to the documented exit status", "[cli]") {
  struct Row {
    int err;
    int status;
  };
  const Row table[] = {
      {0, 0},          {kUsageErrno, 2},  {ENOENT, 3},       {ENXIO, 3},        {ENODEV, 3},
      {EEXIST, 4},     {EBUSY, 4},        {ENOTEMPTY, 4},    {EALREADY, 4},     {ETXTBSY, 4},
      {EINVAL, 5},     {ERANGE, 5},       {EDOM, 5},         {ENAMETOOLONG, 5}, {EFBIG, 5},
      {EOVERFLOW, 5},  {ETIMEDOUT, 6},    {EHOSTUNREACH, 6}, {EHOSTDOWN, 6},    {ECONNREFUSED, 6},
      {ECONNRESET, 6}, {ECONNABORTED, 6}, {ENETUNREACH, 6},  {ENETDOWN, 6},     {ENOTCONN, 6},
      {ESHUTDOWN, 6},  {EIO, 1},          {ENOSPC, 1},       {EPROTO, 1},       {EACCES, 1},
      {ENOEXEC, 1},
  };
  for (const Row& row : table) {
    CAPTURE(row.err);
    CHECK(exit_status_for_errno(row.err) == row.status);
    // librbd's negative errnos map alike.
    CHECK(exit_status_for_errno(-row.err) == row.status);
  }
  // The usage marker is no errno Linux defines.
  CHECK(kUsageErrno >= 4096);
}

TEST_CASE("the help text lists every exit status", "[cli]") {
  const std::string help = exit_status_help();
  for (const char* line : {"  0  success", "  1  any other", "  2  usage", "  3  not found",
                           "  4  conflict", "  5  invalid input", "  6  unreachable"}) {
    CHECK(help.find(line) != std::string::npos);
  }
}

TEST_CASE("printable makes every control character a visible escape", "[cli]") {
  SECTION("plain names and UTF-8 pass unchanged") {
    CHECK(printable("db-01_data.v2") == "db-01_data.v2");
    CHECK(printable("données ▶ 日本") == "données ▶ 日本");
    CHECK(printable("") == "");
  }
  SECTION("C0 controls, DEL and the backslash") {
    CHECK(printable("a\nb") == "a\\nb");
    CHECK(printable("a\r\tb") == "a\\r\\tb");
    CHECK(printable("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
    CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
    CHECK(printable("\x07\x7f") == "\\x07\\x7f");
    CHECK(printable("a\\x1b") == "a\\\\x1b");
  }
  SECTION("C1 controls and bytes that are not UTF-8") {
    CHECK(printable("\xc2\x9b"
                    "31m") == "\\u009b31m");
    CHECK(printable("\xc2\x85") == "\\u0085");
    CHECK(printable("\xc2\xa0") == "\xc2\xa0");  // no-break space is printable
    CHECK(printable("\x9b"
                    "2J") == "\\x9b2J");
    CHECK(printable("\xff\xfe") == "\\xff\\xfe");
    CHECK(printable("\xe2\x96") == "\\xe2\\x96");           // cut short
    CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");           // overlong '/'
    CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  }
  SECTION("nothing printed ever holds a raw control byte") {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    for (unsigned char c : printable(all)) {
      CHECK((c >= 0x20 && c != 0x7f));
    }
  }
}
