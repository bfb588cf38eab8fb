// The Cinder block-storage v3 API: auth, microversion, routing, errors.
#pragma once

#include "service/api_request.h"
#include "service/auth.h"
#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

class CinderApi {
 public:
  CinderApi(VolumeService& service, const Authenticator& auth) : service_(service), auth_(auth) {}

  // Answers one request; runs on a worker thread; never throws (an
  // exception becomes a 500 with Cinder's computeFault body).
  ApiResponse handle(ApiRequest& request);

 private:
  ApiResponse route(ApiRequest& request);
  VolumeService& service_;
  const Authenticator& auth_;
};

// True when `segment` right after /v3/ names a collection rather than a
// project id.
bool is_collection(const std::string& segment);

}  // namespace rbdvol::service::cinder
