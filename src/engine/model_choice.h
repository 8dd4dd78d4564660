// Which model a collection is encoded with, and which one to load: the rules, apart from the
// engine that applies them (collection_model.cpp) so that they can be tested without a
// model or a store.
//
// A collection records its model in two properties:
//   clipdex.model              the registry name ("ViT-B-32::openai", "hf-hub:ORG/REPO") or the
//                              absolute folder it was loaded from: what `--model` takes, and a
//                              hint where to find the weights again
//   clipdex.model_fingerprint  what the weights are ("sha256:...", model/fingerprint.h): the
//                              same weights match from any folder, other weights never do
// Collections made before fingerprints recorded "dir:NAME" (the folder's name) or a registry
// name alone; they still open, matched as before, and get the fingerprint record then.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "clipdex/error.h"

namespace clipdex::engine {

inline constexpr const char* kPropertyModel = "clipdex.model";
inline constexpr const char* kPropertyFingerprint = "clipdex.model_fingerprint";
inline constexpr const char* kPropertyDim = "clipdex.dim";
inline constexpr const char* kLegacyFolderPrefix = "dir:";

struct ModelRecord {
    std::string model;        // registry name or absolute folder; legacy "dir:NAME"; empty: none
    std::string fingerprint;  // empty in records written before fingerprints

    static ModelRecord from_properties(const std::map<std::string, std::string>& properties);
    void write_to(std::map<std::string, std::string>& properties) const;
    bool empty() const { return model.empty() && fingerprint.empty(); }
    // "dir:NAME": the folder's name only, its place unknown.
    bool legacy_folder() const;
};

// The record of the model `model_arg` names (as --model gave it), with its fingerprint: a
// folder by its absolute path, anything else by the name as written.
ModelRecord identity_of(const std::string& model_arg, const std::string& fingerprint);

// Where the collection lives, for messages.
struct CollectionPlace {
    std::string collection;
    std::string uri;
};

// The model to load: `requested` (--model) when given; else the collection's own (`record`,
// absent when there is no collection yet); else `default_model`. Throws when the collection's
// model cannot be found without --model: a legacy "dir:NAME" record (its folder was never
// recorded), or a recorded folder that is gone.
std::string model_to_load(const std::string& requested, const std::optional<ModelRecord>& record,
                          const std::string& default_model, const CollectionPlace& place);

// The model as stats show it before anything is loaded: --model, else the collection's, else
// the default.
std::string model_in_use(const std::string& requested, const std::optional<ModelRecord>& record,
                         const std::string& default_model);

enum class Match {
    Same,         // the record says this model
    SameUpgrade,  // this model, by an older record (or a moved folder): rewrite the record
    Different,
};

// Whether the loaded model (`loaded`, from identity_of) is the one the collection records.
// A collection without a record (made outside clipdex) takes any model of its dimension.
Match compare(const ModelRecord& recorded, const ModelRecord& loaded);

// The Conflict error for a mismatch: both models, and advice that works as written (leave
// --model out, or the --model that names the collection's own model, or another collection).
Error mismatch_error(const ModelRecord& recorded, const ModelRecord& loaded,
                     const CollectionPlace& place);


}  // namespace clipdex::engine
