#include "cli/writer_conflict.h"

#include <nlohmann/json.hpp>

#include "common/shell_words.h"

namespace clipdex::cli {

namespace {

using Command = WriteIntent::Command;

// "clipdex serve (pid 1234, serving http://127.0.0.1:5002)".
std::string describe(const store::WriterInfo& holder) {
    std::string text = (holder.program.empty() ? "a process" : holder.program) + " (pid " +
                       std::to_string(holder.pid);
    if (!holder.url.empty()) text += ", serving " + holder.url;
    return text + ")";
}

// How the holder's HTTP API takes this change, as one curl command line; empty when it cannot.
std::string curl_line(const store::WriterInfo& holder, const WriteIntent& intent) {
    if (holder.url.empty()) return {};
    std::string auth;
    if (holder.token_required) auth = " -H \"Authorization: Bearer $CLIPDEX_TOKEN\"";
    if (intent.command == Command::AddUrl) {
        nlohmann::json body = {{"id", intent.id}, {"url", intent.url}};
        if (!intent.description.empty()) body["description"] = intent.description;
        return "curl -X POST " + holder.url + "/v1/add -H 'Content-Type: application/json'" + auth +
               " -d " +
               shell_quote(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (intent.command == Command::Remove && !intent.ids.empty()) {
        std::string line = "curl -X DELETE" + auth;
        for (int64_t id : intent.ids)
            line += " " + shell_quote(holder.url + "/v1/delete?id=" + std::to_string(id));
        return line;
    }
    return {};
}

}  // namespace

std::string program_name(Command command) {
    switch (command) {
        case Command::Index:
            return "clipdex index";
        case Command::AddUrl:
        case Command::AddFile:
            return "clipdex add";
        case Command::Remove:
            return "clipdex remove";
        case Command::Migrate:
            return "clipdex migrate";
        case Command::Serve:
            return "clipdex serve";
    }
    return "clipdex";
}

std::string writer_conflict_message(const std::string& db, const store::WriterInfo& holder,
                                    const WriteIntent& intent) {
    if (holder.pid <= 0)
        return "another process holds " + db + " for writing (its lock " + db +
               ".lock is taken); find it with `fuser -v " + shell_quote(db + ".lock") +
               "`, stop it, then run this command again";
    const std::string pid = std::to_string(holder.pid);
    std::string message = describe(holder) + " holds " + db + " for writing; ";
    if (intent.command == Command::Serve)
        return message + (holder.url.empty() ? "" : "use that server, or ") + "stop it (kill " +
               pid + ") and run this command again";
    if (holder.url.empty())
        return message + "wait for it to finish or stop it (kill " + pid +
               "), then run this command again";
    message += "stop it (kill " + pid + ") and run this command again";
    const std::string curl = curl_line(holder, intent);
    if (!curl.empty()) {
        message += ", or send the change through it";
        if (holder.token_required)
            message += " (it wants its --bearer-token: put it in CLIPDEX_TOKEN)";
        return message + ": " + curl;
    }
    if (intent.command == Command::AddFile)
        message += " (its HTTP API adds images by URL only: POST " + holder.url + "/v1/add)";
    return message;
}

void refuse_if_held(const std::string& db, const WriteIntent& intent) {
    if (const auto holder = store::find_writer(db))
        throw Error(ErrorCode::Conflict, writer_conflict_message(db, *holder, intent));
}

std::string local_url(const std::string& host, int port) {
    std::string name = host;
    if (name.empty() || name == "0.0.0.0") name = "127.0.0.1";
    if (name == "::" || name == "[::]") name = "::1";
    if (name.find(':') != std::string::npos && name.front() != '[') name = "[" + name + "]";
    return "http://" + name + ":" + std::to_string(port);
}

}  // namespace clipdex::cli
