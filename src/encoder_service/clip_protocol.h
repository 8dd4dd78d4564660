// clip-as-service's HTTP shapes, so that the real `clip_client` (PyPI clip-client 0.8.3 on
// jina 3.20 / docarray 0.21) talks to `clipdex serve-encoder` unchanged: it GETs /openapi.json to
// learn the POST endpoints, then POSTs /post with a Jina DataRequest as JSON:
//   {"header": {"request_id": .., "exec_endpoint": "/encode"}, "parameters": {..},
//    "data": [{"id": .., "text": ..} | {"id": .., "blob": BASE64} | {"id": .., "uri": ..}, ..]}
// and reads back the same request with each document's "embedding" filled in. Only the fields
// the client reads are answered: header, parameters, data[].id, data[].embedding (and text/uri).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace clipdex::encoder_service {

struct ClipDoc {
    enum class Kind { Text, Blob, Uri };
    Kind kind = Kind::Text;
    std::string id;
    std::string value;  // the text, the blob's base64 or the uri
    std::string where;  // "data[2] (id ...)", for errors
};

struct ClipRequest {
    nlohmann::json header = nlohmann::json::object();
    nlohmann::json parameters = nlohmann::json::object();
    std::vector<ClipDoc> docs;
};

// Throws Error(InvalidInput) naming the document: no data array, a document with none of text,
// blob or uri, an exec_endpoint other than "/" or "/encode" (Unsupported: /rank is not served).
ClipRequest parse_clip_request(const nlohmann::json& body);

// The answer to `request` with one embedding per document (docs order).
nlohmann::json clip_response(const ClipRequest& request,
                             const std::vector<std::vector<float>>& embeddings);

// A refusal the client shows: header.status with code 3 (ERROR) and the description.
nlohmann::json clip_error(const ClipRequest* request, const std::string& description);

// The OpenAPI document clip_client reads to find the POST endpoint (/post).
nlohmann::json clip_openapi();

}  // namespace clipdex::encoder_service
