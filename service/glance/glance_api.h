// The Glance image API v2 (docs/rest-api.md, "The image API"): routes a
// request to its handler. Pure over ApiRequest/ApiResponse; the image data
// streams through ApiRequest::read_body and ApiResponse::stream.
#pragma once

#include <string>

#include "service/api_request.h"
#include "service/auth.h"
#include "service/glance/image_service.h"

namespace rbdvol::service::glance {

class GlanceApi {
 public:
  GlanceApi(ImageService& images, const Authenticator& auth) : images_(images), auth_(auth) {}

  // Never throws: an unexpected exception is answered 500 and logged.
  ApiResponse handle(ApiRequest& request);

  // Whether a request's body is streamed to its handler: image data
  // (PUT /v2/images/{id}/file, /stage and /transfer).
  static bool streams(const std::string& method, const std::string& path);

 private:
  ApiResponse route(ApiRequest& request);

  ImageService& images_;
  const Authenticator& auth_;
};

// Cinder's "upload to image" (os-volume_upload_image): makes the record of a
// new image `name` (status saving) and, in the background, the image from
// volume `volume_id` (the plugin's image.create_from_volume: it lands on the
// store the volume's disk type names), then its sha256; the image ends
// active, or killed with the reason. The new image's id.
Result<std::string> start_image_from_volume(ImageService& images, const std::string& volume_id,
                                            const std::string& name, bool force,
                                            const std::string& visibility, bool is_protected);

// The JSON schemas the clients validate against (/v2/schemas/...).
const Json& image_schema();
const Json& images_schema();

// Glance's view of a record (its "image" plus self, file, schema, stores,
// import progress).
Json image_view(const Json& record);

// Applies a JSON patch (application/openstack-images-v2.1-json-patch) to
// `image`: EINVAL for a malformed one, EACCES for a read-only or reserved
// attribute, ENOENT for removing what is not there.
Status apply_patch(Json& image, const Json& patch);

// An error in the shape the clients read: {"error": {"message", "code", "title"}}.
ApiResponse glance_error(int status, const std::string& message);
ApiResponse glance_error(const Status& status);

}  // namespace rbdvol::service::glance
