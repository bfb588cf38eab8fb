// Who may call the API: rbdvold's auth strategies (docs/config.md, [service]).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "service/api_request.h"
#include "status/status.h"

namespace rbdvol::service {

class Authenticator {
 public:
  // "noauth" is refused (EINVAL) unless `listen_is_loopback`. "token" reads
  // the token file (one token a line; blank lines and '#' comments skipped)
  // and refuses it (EACCES) when others may read it or the group may write
  // it, or when it holds no token.
  static Result<Authenticator> make(const config::Service& service, bool listen_is_loopback);

  // True when the request may go on: always with noauth; with token, when
  // its X-Auth-Token equals one of the tokens. Tokens are compared through
  // their SHA-256 digests with CRYPTO_memcmp, against every token, so the
  // time taken says nothing about how much of a token matched.
  bool allows(const ApiRequest& request) const;

  const std::string& strategy() const { return strategy_; }

 private:
  std::string strategy_;
  std::vector<std::string> token_digests_;  // raw SHA-256 of each token
};

}  // namespace rbdvol::service
