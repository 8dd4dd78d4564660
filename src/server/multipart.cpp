#include "server/multipart.h"

#include "clipdex/error.h"
#include "server/http_types.h"
#include "server/query.h"

namespace clipdex::server {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

[[noreturn]] void malformed(const std::string& what, size_t offset) {
    throw Error(ErrorCode::InvalidInput,
                "multipart body: " + what + " at byte " + std::to_string(offset));
}

// Reads one parameter value at `text[i]`: a quoted string (backslash escapes) or a token up to
// ';'. Advances i past it.
std::string read_value(std::string_view text, size_t& i) {
    std::string value;
    if (i < text.size() && text[i] == '"') {
        for (++i; i < text.size() && text[i] != '"'; ++i) {
            if (text[i] == '\\' && i + 1 < text.size()) ++i;
            value.push_back(text[i]);
        }
        if (i < text.size()) ++i;  // closing quote
        return value;
    }
    const size_t end = std::min(text.find(';', i), text.size());
    value = std::string(trim(text.substr(i, end - i)));
    i = end;
    return value;
}

}  // namespace

std::optional<std::string> header_parameter(std::string_view value, std::string_view name) {
    size_t i = value.find(';');
    while (i != std::string_view::npos && i < value.size()) {
        ++i;  // past ';'
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
        const size_t eq = value.find('=', i);
        const size_t semi = value.find(';', i);
        if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
            i = semi;
            continue;
        }
        const std::string_view key = trim(value.substr(i, eq - i));
        i = eq + 1;
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
        std::string parsed = read_value(value, i);
        if (iequals_ascii(key, name)) return parsed;
        i = value.find(';', i);
    }
    return std::nullopt;
}

bool is_multipart_form(std::string_view content_type) {
    const std::string_view type = trim(content_type.substr(0, content_type.find(';')));
    return iequals_ascii(type, "multipart/form-data");
}

std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body,
                                      const MultipartLimits& limits) {
    const auto boundary = header_parameter(content_type, "boundary");
    if (!boundary || boundary->empty() || boundary->size() > 200)
        throw Error(ErrorCode::InvalidInput,
                    "multipart body: the Content-Type needs a boundary parameter of 1 to 200 "
                    "characters");
    const std::string delimiter = "--" + *boundary;
    const std::string next_delimiter = "\r\n" + delimiter;

    // The first delimiter starts the body or follows a preamble line.
    size_t pos = 0;
    if (body.substr(0, delimiter.size()) != delimiter) {
        pos = body.find(next_delimiter);
        if (pos == std::string_view::npos) malformed("no opening boundary '" + delimiter + "'", 0);
        pos += 2;
    }
    std::vector<FormPart> parts;
    while (true) {
        pos += delimiter.size();
        if (body.substr(pos, 2) == "--") return parts;  // closing delimiter; epilogue ignored
        while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
        if (body.substr(pos, 2) != "\r\n") malformed("expected CRLF after the boundary", pos);
        pos += 2;
        if (parts.size() == limits.max_parts)
            throw Error(ErrorCode::TooLarge,
                        "multipart body: more than " + std::to_string(limits.max_parts) + " parts");

        FormPart part;
        bool disposition = false;
        const size_t headers_start = pos;
        while (true) {  // header lines up to the empty line
            // Search only within the header budget, so a part without an empty line costs
            // max_header_bytes of scanning, not the rest of the body.
            const size_t budget = headers_start + limits.max_header_bytes + 2 - pos;
            size_t eol = body.substr(pos, budget).find("\r\n");
            if (eol == std::string_view::npos) {
                if (body.size() - headers_start > limits.max_header_bytes)
                    throw Error(ErrorCode::TooLarge,
                                "multipart body: part " + std::to_string(parts.size() + 1) +
                                    " has more than " + std::to_string(limits.max_header_bytes) +
                                    " bytes of headers");
                malformed("part headers do not end", pos);
            }
            eol += pos;
            const std::string_view line = body.substr(pos, eol - pos);
            pos = eol + 2;
            if (line.empty()) break;
            const size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0)
                malformed("part header line without a name and ':'", eol - line.size());
            const std::string name = lower_ascii(trim(line.substr(0, colon)));
            const std::string_view value = trim(line.substr(colon + 1));
            if (name == "content-disposition") {
                if (!iequals_ascii(trim(value.substr(0, value.find(';'))), "form-data"))
                    malformed("Content-Disposition is not form-data", eol - line.size());
                disposition = true;
                part.name = header_parameter(value, "name").value_or("");
                if (auto star = header_parameter(value, "filename*");
                    star && iequals_ascii(star->substr(0, 7), "utf-8''"))
                    part.filename = percent_decode(star->substr(7), false, "multipart filename*");
                else
                    part.filename = header_parameter(value, "filename").value_or("");
            } else if (name == "content-type") {
                part.content_type = std::string(value);
            }
        }
        if (!disposition) malformed("part without Content-Disposition", headers_start);
        const size_t end = body.find(next_delimiter, pos);
        if (end == std::string_view::npos)
            malformed("part content without a closing boundary", pos);
        part.content = body.substr(pos, end - pos);
        parts.push_back(std::move(part));
        pos = end + 2;
    }
}

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name) {
    for (const auto& part : parts)
        if (part.name == name) return &part;
    return nullptr;
}

}  // namespace clipdex::server
