#include "encoder_service/clip_protocol.h"

#include "clipdex/error.h"

namespace clipdex::encoder_service {

using nlohmann::json;

namespace {

std::string string_field(const json& doc, const char* key) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return {};
    if (!it->is_string())
        throw Error(ErrorCode::InvalidInput, std::string("field '") + key + "' must be a string");
    return it->get<std::string>();
}

}  // namespace

ClipRequest parse_clip_request(const json& body) {
    ClipRequest request;
    if (auto it = body.find("header"); it != body.end() && it->is_object()) request.header = *it;
    if (auto it = body.find("parameters"); it != body.end() && it->is_object())
        request.parameters = *it;
    std::string endpoint = "/";
    if (request.header.contains("exec_endpoint") && request.header["exec_endpoint"].is_string())
        endpoint = request.header["exec_endpoint"].get<std::string>();
    else if (body.contains("execEndpoint") && body["execEndpoint"].is_string())
        endpoint = body["execEndpoint"].get<std::string>();
    else if (body.contains("exec_endpoint") && body["exec_endpoint"].is_string())
        endpoint = body["exec_endpoint"].get<std::string>();
    if (endpoint != "/" && endpoint != "/encode" && !endpoint.empty())
        throw Error(ErrorCode::Unsupported,
                    "exec_endpoint '" + endpoint +
                        "' is not served by clipdex serve-encoder (only encode: '/' or '/encode')");
    auto data = body.find("data");
    if (data == body.end() || !data->is_array())
        throw Error(ErrorCode::InvalidInput, "field 'data' must be an array of documents");
    for (size_t i = 0; i < data->size(); ++i) {
        const json& doc = (*data)[i];
        ClipDoc out;
        out.where = "data[" + std::to_string(i) + "]";
        if (!doc.is_object())
            throw Error(ErrorCode::InvalidInput, out.where + ": a document must be an object");
        try {
            out.id = string_field(doc, "id");
            if (!out.id.empty()) out.where += " (id " + out.id + ")";
            const std::string text = string_field(doc, "text");
            const std::string blob = string_field(doc, "blob");
            const std::string uri = string_field(doc, "uri");
            if (!blob.empty()) {
                out.kind = ClipDoc::Kind::Blob;
                out.value = blob;
            } else if (!text.empty()) {
                out.kind = ClipDoc::Kind::Text;
                out.value = text;
            } else if (!uri.empty()) {
                out.kind = ClipDoc::Kind::Uri;
                out.value = uri;
            } else if (doc.contains("tensor") && !doc["tensor"].is_null()) {
                throw Error(ErrorCode::Unsupported,
                            "documents with a tensor are not supported; send text, blob or uri");
            } else {
                throw Error(ErrorCode::InvalidInput, "the document has no text, blob or uri");
            }
        } catch (const Error& e) {
            throw Error(e.code(), out.where + ": " + e.what());
        }
        request.docs.push_back(std::move(out));
    }
    return request;
}

json clip_response(const ClipRequest& request, const std::vector<std::vector<float>>& embeddings) {
    json data = json::array();
    for (size_t i = 0; i < request.docs.size(); ++i) {
        const ClipDoc& doc = request.docs[i];
        json out = {{"id", doc.id}, {"embedding", embeddings.at(i)}};
        if (doc.kind == ClipDoc::Kind::Text) out["text"] = doc.value;
        if (doc.kind == ClipDoc::Kind::Uri) out["uri"] = doc.value;
        data.push_back(std::move(out));
    }
    return {{"header", request.header},
            {"parameters", request.parameters},
            {"routes", json::array()},
            {"data", std::move(data)}};
}

json clip_error(const ClipRequest* request, const std::string& description) {
    json header = request ? request->header : json::object();
    header["status"] = {{"code", 3}, {"description", description}};
    return {{"header", header}, {"data", nullptr}};
}

json clip_openapi() {
    const json encode = {{"post",
                          {{"summary", "clip-as-service encode (Jina DataRequest as JSON)"},
                           {"responses", {{"200", {{"description", "the documents, embedded"}}}}}}}};
    return {{"openapi", "3.0.2"},
            {"info", {{"title", "clipdex serve-encoder"}, {"version", "1"}}},
            {"paths", {{"/post", encode}}}};
}

}  // namespace clipdex::encoder_service
