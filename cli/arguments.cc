#include "cli/arguments.h"

namespace rbdvol::cli {

Result<Arguments> Arguments::parse(const std::vector<std::string>& args,
                                   const std::vector<OptionSpec>& specs) {
  Arguments out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a.compare(0, 2, "--") != 0) {
      out.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (!spec) return Status::Invalid("unknown option --" + name);
    if (out.values_.count(name)) return Status::Invalid("option --" + name + " is given twice");
    if (spec->takes_value) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return Status::Invalid("option --" + name + " needs a value");
        value = args[++i];
      }
    } else if (inline_value) {
      return Status::Invalid("option --" + name + " takes no value");
    }
    out.values_[name] = value;
  }
  return out;
}

std::string Arguments::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

}  // namespace rbdvol::cli
