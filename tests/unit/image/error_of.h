// The clipdex::Error a call throws, for the image tests to check its code and message; a call
// that throws none fails the test.
#pragma once

#include <gtest/gtest.h>

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
