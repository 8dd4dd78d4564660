// The filter lexer: text -> tokens (private to the filter module; parser.cpp is its reader).
// The whole text is tokenized first (it is at most 64 KiB), so the parser only looks ahead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/filter/filter_ast.h"

namespace clipdex::filter {

enum class Tok {
    Ident,
    String,
    Int,
    Float,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Minus,
    Plus,
    Cmp,
    And,
    Or,
    Not,
    In,
    Like,
    True,
    False,
    End
};

struct Token {
    Tok kind = Tok::End;
    size_t pos = 0;
    std::string text;              // Ident: the name; String: the decoded value
    uint64_t magnitude = 0;        // Int: the unsigned value (the sign is a separate token)
    double real = 0;               // Float
    CompareOp op = CompareOp::Eq;  // Cmp
};

// The filter as it appears in messages: short, and printable whatever bytes it holds, so the
// message itself stays valid UTF-8 (it may end up in JSON).
std::string echo(std::string_view text);

// Error(InvalidInput) naming the filter and the position at fault.
[[noreturn]] void fail(std::string_view text, size_t pos, const std::string& what);

// Every token of `text`, the last one Tok::End; throws through fail() on a bad token.
std::vector<Token> tokenize(std::string_view text);

}  // namespace clipdex::filter
