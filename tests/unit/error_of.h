// The clipdex::Error a call throws, for the unit tests to check its code and message; a call
// that throws none fails the test.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "clipdex/error.h"

template <class F>
clipdex::Error error_of(F&& f) {
    try {
        f();
    } catch (const clipdex::Error& e) {
        return e;
    }
    ADD_FAILURE() << "no clipdex::Error thrown";
    return clipdex::Error(clipdex::ErrorCode::Internal, "none");
}

// The code of the clipdex::Error a call throws; its message goes to *message when one is given.
inline clipdex::ErrorCode code_of(const std::function<void()>& f, std::string* message = nullptr) {
    const clipdex::Error error = error_of(f);
    if (message) *message = error.what();
    return error.code();
}
