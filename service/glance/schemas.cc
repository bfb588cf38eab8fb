// The image schemas of the Glance API as rbdvold serves it. glanceclient
// validates every image it receives against /v2/schemas/image (warlock), so
// every field image_view() returns is declared here with its exact type, or
// is a string (additionalProperties): `stores` and the `os_glance_*` import
// fields are left to that, as Glance does, since glanceclient makes a
// command-line option of every declared property (and has its own --stores).
#include "service/glance/glance_api.h"

namespace rbdvol::service::glance {
namespace {

const char kImageSchema[] = R"json({
  "name": "image",
  "additionalProperties": {"type": "string"},
  "links": [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"}
  ],
  "properties": {
    "id": {"type": "string", "readOnly": true,
           "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
           "description": "An identifier for the image"},
    "name": {"type": ["null", "string"], "maxLength": 255,
             "description": "Descriptive name for the image"},
    "status": {"type": "string", "readOnly": true,
               "enum": ["queued", "saving", "uploading", "importing", "active", "killed",
                        "deleted", "pending_delete", "deactivated"],
               "description": "Status of the image"},
    "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"],
                   "description": "Scope of image accessibility"},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
    "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32,
                 "description": "md5 hash of image contents (not computed by rbdvold: null)"},
    "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "maxLength": 64,
                     "description": "Algorithm to calculate the os_hash_value"},
    "os_hash_value": {"type": ["null", "string"], "readOnly": true, "maxLength": 128,
                      "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"},
    "owner": {"type": ["null", "string"], "maxLength": 255,
              "description": "Owner of the image"},
    "size": {"type": ["null", "integer"], "readOnly": true,
             "description": "Size of image file in bytes"},
    "virtual_size": {"type": ["null", "integer"], "readOnly": true,
                     "description": "Virtual size of image in bytes"},
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
    "disk_format": {"type": ["null", "string"], "enum": [null, "raw", "qcow2"],
                    "description": "Format of the disk (stored raw either way)"},
    "container_format": {"type": ["null", "string"], "enum": [null, "bare"],
                         "description": "Format of the container"},
    "created_at": {"type": "string", "readOnly": true,
                   "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": true,
                   "description": "Date and time of the last image modification"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
             "description": "List of strings related to the image"},
    "self": {"type": "string", "readOnly": true, "description": "An image self url"},
    "file": {"type": "string", "readOnly": true, "description": "An image file url"},
    "schema": {"type": "string", "readOnly": true, "description": "An image schema url"},
    "direct_url": {"type": "string", "readOnly": true,
                   "description": "URL to access the image file kept in external store"},
    "locations": {"type": "array", "items": {"type": "object"},
                  "description": "A set of URLs to access the image file (not shown by rbdvold)"}
  }
})json";

Json make_images_schema() {
  Json image = image_schema();
  return Json{{"name", "images"},
              {"properties",
               {{"images", {{"type", "array"}, {"items", image}}},
                {"schema", {{"type", "string"}}},
                {"first", {{"type", "string"}}},
                {"next", {{"type", "string"}}}}},
              {"links", Json::array({Json{{"rel", "first"}, {"href", "{first}"}},
                                     Json{{"rel", "next"}, {"href", "{next}"}},
                                     Json{{"rel", "describedby"}, {"href", "{schema}"}}})}};
}

}  // namespace

const Json& image_schema() {
  static const Json schema = Json::parse(kImageSchema);
  return schema;
}

const Json& images_schema() {
  static const Json schema = make_images_schema();
  return schema;
}

}  // namespace rbdvol::service::glance
