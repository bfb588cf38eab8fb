// Command-line arguments of one rbdvol subcommand: options (--name VALUE,
// --name=VALUE, or flags) and positional arguments, checked against what the
// subcommand accepts.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::cli {

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value = false;
  std::string help;
  std::string value_name = "VALUE";
};

class Arguments {
 public:
  // EINVAL for an unknown option, an option without its value, or one given
  // twice. "--" ends the options.
  static Result<Arguments> parse(const std::vector<std::string>& args,
                                 const std::vector<OptionSpec>& specs);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace rbdvol::cli
