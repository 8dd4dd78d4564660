#include "engine/model_choice.h"

#include <cctype>
#include <filesystem>

#include "common/shell_words.h"

namespace clipdex::engine {

namespace fs = std::filesystem;

namespace {

bool is_folder_record(const std::string& model) {
    return !model.empty() && model.front() == '/';
}

bool folder_exists(const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
}

bool same_name(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string describe(const ModelRecord& record) {
    std::string text = "'" + record.model + "'";
    if (!record.fingerprint.empty()) text += " (" + record.fingerprint + ")";
    return text;
}

std::string where(const CollectionPlace& place) {
    return "collection '" + place.collection + "' in " + place.uri;
}

// A collection name (letters, digits, '_') for the other model: the current name and the
// model's last word, so that the advice can be run as it is.
std::string collection_for(const CollectionPlace& place, const ModelRecord& loaded) {
    std::string model = fs::path(loaded.model).filename().string();
    if (model.empty()) model = loaded.model;
    std::string name = place.collection + "_";
    for (char c : model)
        name += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(
                                                                  static_cast<unsigned char>(c)))
                                                            : '_';
    return name.substr(0, 200);
}

}  // namespace

ModelRecord ModelRecord::from_properties(const std::map<std::string, std::string>& properties) {
    ModelRecord record;
    if (auto it = properties.find(kPropertyModel); it != properties.end()) record.model = it->second;
    if (auto it = properties.find(kPropertyFingerprint); it != properties.end())
        record.fingerprint = it->second;
    return record;
}

void ModelRecord::write_to(std::map<std::string, std::string>& properties) const {
    properties[kPropertyModel] = model;
    properties[kPropertyFingerprint] = fingerprint;
}

bool ModelRecord::legacy_folder() const {
    return model.rfind(kLegacyFolderPrefix, 0) == 0;
}

ModelRecord identity_of(const std::string& model_arg, const std::string& fingerprint) {
    ModelRecord record;
    record.fingerprint = fingerprint;
    if (folder_exists(model_arg)) {
        fs::path path = fs::absolute(model_arg).lexically_normal();
        if (!path.has_filename()) path = path.parent_path();  // "models/x/" -> "models/x"
        record.model = path.string();
    } else {
        record.model = model_arg;
    }
    return record;
}

std::string model_to_load(const std::string& requested, const std::optional<ModelRecord>& record,
                          const std::string& default_model, const CollectionPlace& place) {
    if (!requested.empty()) return requested;
    if (!record || record->model.empty()) return default_model;
    if (record->legacy_folder()) {
        const std::string name = record->model.substr(std::string(kLegacyFolderPrefix).size());
        throw Error(ErrorCode::InvalidInput,
                    where(place) + " was made by an older clipdex, which recorded only the name " +
                        "of its model's folder ('" + name +
                        "'), not where it is: give that folder once with --model (e.g. --model " +
                        "/path/to/" + name +
                        "); the collection then records it and needs --model no more");
    }
    if (is_folder_record(record->model) && !folder_exists(record->model))
        throw Error(ErrorCode::NotFound,
                    where(place) + " was encoded with the model in folder " + record->model +
                        ", which is gone: give the folder holding those weights now with " +
                        "--model FOLDER (the same weights are recognised in any folder" +
                        (record->fingerprint.empty() ? "" : " by their fingerprint " +
                                                                record->fingerprint) +
                        ")");
    return record->model;
}

std::string model_in_use(const std::string& requested, const std::optional<ModelRecord>& record,
                         const std::string& default_model) {
    if (!requested.empty()) return requested;
    if (record && !record->model.empty()) return record->model;
    return default_model;
}

Match compare(const ModelRecord& recorded, const ModelRecord& loaded) {
    if (recorded.empty()) return Match::Same;
    if (!recorded.fingerprint.empty()) {
        if (recorded.fingerprint != loaded.fingerprint) return Match::Different;
        // The same weights: a moved folder becomes the new hint.
        const bool moved = is_folder_record(recorded.model) && recorded.model != loaded.model &&
                           !folder_exists(recorded.model);
        return moved || recorded.model.empty() ? Match::SameUpgrade : Match::Same;
    }
    if (recorded.legacy_folder()) {
        const std::string name = recorded.model.substr(std::string(kLegacyFolderPrefix).size());
        const bool same = is_folder_record(loaded.model) &&
                          fs::path(loaded.model).filename().string() == name;
        return same ? Match::SameUpgrade : Match::Different;
    }
    return same_name(recorded.model, loaded.model) ? Match::SameUpgrade : Match::Different;
}

Error mismatch_error(const ModelRecord& recorded, const ModelRecord& loaded,
                     const CollectionPlace& place) {
    std::string message = where(place) + " holds embeddings of model " + describe(recorded) +
                          ", not of " + describe(loaded) + ": ";
    if (recorded.legacy_folder()) {
        const std::string name = recorded.model.substr(std::string(kLegacyFolderPrefix).size());
        message += "give --model the folder named '" + name + "' that it was made with";
    } else if (is_folder_record(recorded.model) && !folder_exists(recorded.model)) {
        message += "its folder is gone; give --model the folder holding those weights now";
    } else {
        message += "leave --model out to use the collection's own model, or give --model " +
                   shell_word(recorded.model);
    }
    message += "; to use " + shell_word(loaded.model) +
               ", give it its own collection: --collection " + collection_for(place, loaded);
    return Error(ErrorCode::Conflict, message);
}

}  // namespace clipdex::engine
