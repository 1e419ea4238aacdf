#include "common/go_template.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace skiff {

namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------
// Printing values as Go's fmt (%v) and encoding/json print them.

// strconv.FormatFloat(f, 'g', -1, 64): shortest digits, exponent form when exp < -4 || exp >= 6
// (that is what fmt's %v prints: 1e+06, 1.5, 100000).
std::string go_float(double d) {
    char buf[64];
    auto sci = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, sci.ptr);
    size_t e = s.find('e');
    int exp = e == std::string::npos ? 0 : std::atoi(s.c_str() + e + 1);
    if (exp < -4 || exp >= 6) return s;
    auto fixed = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    return std::string(buf, fixed.ptr);
}

// encoding/json's float64: 'f' unless tiny or huge, then 'e' with "e-09" shortened to "e-9".
std::string json_float(double d) {
    double a = std::fabs(d);
    char buf[64];
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
        std::string s(buf, r.ptr);
        size_t n = s.size();
        if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
        return s;
    }
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    return std::string(buf, r.ptr);
}

std::string number_string(const json& v, bool for_json) {
    if (v.is_number_integer() && !v.is_number_unsigned()) return std::to_string(v.get<int64_t>());
    if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
    return for_json ? json_float(v.get<double>()) : go_float(v.get<double>());
}

// Length of the UTF-8 sequence at s[i], or 0 when it is not valid UTF-8; sets *cp.
size_t utf8_seq(std::string_view s, size_t i, uint32_t* cp) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t c;
    if (b < 0x80) { *cp = b; return 1; }
    if ((b & 0xE0) == 0xC0) { len = 2; c = b & 0x1F; }
    else if ((b & 0xF0) == 0xE0) { len = 3; c = b & 0x0F; }
    else if ((b & 0xF8) == 0xF0) { len = 4; c = b & 0x07; }
    else return 0;
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        auto cb = static_cast<unsigned char>(s[i + k]);
        if ((cb & 0xC0) != 0x80) return 0;
        c = (c << 6) | (cb & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range values are invalid, as Go's utf8 decides.
    if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
        c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

// A JSON string as Go's encoder writes it with SetEscapeHTML(false), which is docker's
// `json` function: <>& stay literal, U+2028/U+2029 are escaped, bad UTF-8 becomes U+FFFD.
void json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            switch (b) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (b < 0x20) {
                        out += "\\u00";
                        out += hex[b >> 4];
                        out += hex[b & 0xF];
                    } else {
                        out += static_cast<char>(b);
                    }
            }
            ++i;
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_seq(s, i, &cp);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
        } else if (cp == 0x2028 || cp == 0x2029) {
            out += cp == 0x2028 ? "\\u2028" : "\\u2029";
            i += n;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    out += '"';
}

void go_json(std::string& out, const json& v) {
    switch (v.type()) {
        case json::value_t::null: out += "null"; break;
        case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
        case json::value_t::string: json_string(out, v.get_ref<const std::string&>()); break;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: out += number_string(v, true); break;
        case json::value_t::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v) {
                if (!first) out += ',';
                first = false;
                go_json(out, e);
            }
            out += ']';
            break;
        }
        case json::value_t::object: {
            // nlohmann's object is a std::map: keys come sorted bytewise, as Go sorts them.
            out += '{';
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!first) out += ',';
                first = false;
                json_string(out, it.key());
                out += ':';
                go_json(out, it.value());
            }
            out += '}';
            break;
        }
        default: out += "null"; break;
    }
}

std::string go_json(const json& v) {
    std::string out;
    go_json(out, v);
    return out;
}

// fmt's %v of a value inside a composite: nil is "<nil>".
void go_print(std::string& out, const json& v) {
    switch (v.type()) {
        case json::value_t::null: out += "<nil>"; break;
        case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
        case json::value_t::string: out += v.get_ref<const std::string&>(); break;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: out += number_string(v, false); break;
        case json::value_t::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v) {
                if (!first) out += ' ';
                first = false;
                go_print(out, e);
            }
            out += ']';
            break;
        }
        case json::value_t::object: {
            out += "map[";
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!first) out += ' ';
                first = false;
                out += it.key();
                out += ':';
                go_print(out, it.value());
            }
            out += ']';
            break;
        }
        default: out += "<nil>"; break;
    }
}

std::string go_print(const json& v) {
    std::string out;
    go_print(out, v);
    return out;
}

// What an action prints: text/template shows a missing (nil) value as "<no value>".
std::string print_action(const json& v) { return v.is_null() ? "<no value>" : go_print(v); }

bool truthy(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return false;
        case json::value_t::boolean: return v.get<bool>();
        case json::value_t::string: return !v.get_ref<const std::string&>().empty();
        case json::value_t::number_integer: return v.get<int64_t>() != 0;
        case json::value_t::number_unsigned: return v.get<uint64_t>() != 0;
        case json::value_t::number_float: return v.get<double>() != 0;
        case json::value_t::array:
        case json::value_t::object: return !v.empty();
        default: return false;
    }
}

// Go's name for the type a decoded JSON value would have, for error messages.
std::string go_type(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "nil";
        case json::value_t::boolean: return "bool";
        case json::value_t::string: return "string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "int";
        case json::value_t::number_float: return "float64";
        case json::value_t::array: return "[]interface {}";
        case json::value_t::object: return "map[string]interface {}";
        default: return "interface {}";
    }
}

// ---------------------------------------------------------------------------------------
// Lexing.

enum class Tk { Field, Dot, Var, Ident, Literal, Pipe, LParen, RParen, Declare, Assign, Comma };

struct Token {
    Tk kind;
    std::string text;                 // as written, for messages; the name for Var/Ident
    std::vector<std::string> fields;  // Field: ".A.B" -> {A, B}
    json value;                       // Literal
    bool space_before = false;
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// The body of a Go interpreted string literal ("..."), escapes resolved.
Result<std::string> unquote(std::string_view body) {
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i >= body.size()) return fail("invalid syntax in quoted string");
        char e = body[i];
        auto hex_digits = [&](size_t n) -> Result<uint32_t> {
            uint32_t v = 0;
            for (size_t k = 1; k <= n; ++k) {
                if (i + k >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i + k])))
                    return fail("invalid syntax in quoted string");
                char h = body[i + k];
                v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
            }
            i += n;
            return v;
        };
        switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'v': out += '\v'; break;
            case '\\': out += '\\'; break;
            case '"': out += '"'; break;
            case '\'': out += '\''; break;
            case 'x': {
                SKIFF_TRY(v, hex_digits(2));
                out += static_cast<char>(v);
                break;
            }
            case 'u': {
                SKIFF_TRY(v, hex_digits(4));
                append_utf8(out, v);
                break;
            }
            case 'U': {
                SKIFF_TRY(v, hex_digits(8));
                append_utf8(out, v);
                break;
            }
            default: return fail("invalid syntax in quoted string");
        }
    }
    return out;
}

Result<json> parse_number(const std::string& t) {
    bool is_hex = t.find("0x") != std::string::npos || t.find("0X") != std::string::npos;
    std::string clean;
    for (char c : t)
        if (c != '_') clean += c;
    bool is_float = !is_hex && clean.find_first_of(".eE") != std::string::npos;
    const char* begin = clean.c_str();
    char* end = nullptr;
    errno = 0;
    if (is_float) {
        double d = std::strtod(begin, &end);
        if (*end != 0 || errno != 0) return fail("bad number syntax: \"" + t + "\"");
        return json(d);
    }
    long long v = std::strtoll(begin, &end, 0);
    if (*end != 0 || errno != 0) return fail("bad number syntax: \"" + t + "\"");
    return json(static_cast<int64_t>(v));
}

// Tokens of one action's inside (delimiters and trim markers already removed).
Result<std::vector<Token>> lex_action(std::string_view s) {
    std::vector<Token> out;
    bool sp = false;
    size_t i = 0;
    auto push = [&](Token t) {
        t.space_before = sp;
        sp = false;
        out.push_back(std::move(t));
    };
    while (i < s.size()) {
        char c = s[i];
        if (space(c)) {
            sp = true;
            ++i;
            continue;
        }
        if (c == '|') { push({Tk::Pipe, "|", {}, {}}); ++i; continue; }
        if (c == '(') { push({Tk::LParen, "(", {}, {}}); ++i; continue; }
        if (c == ')') { push({Tk::RParen, ")", {}, {}}); ++i; continue; }
        if (c == ',') { push({Tk::Comma, ",", {}, {}}); ++i; continue; }
        if (c == '=') { push({Tk::Assign, "=", {}, {}}); ++i; continue; }
        if (c == ':') {
            if (i + 1 < s.size() && s[i + 1] == '=') {
                push({Tk::Declare, ":=", {}, {}});
                i += 2;
                continue;
            }
            return fail("expected :=");
        }
        if (c == '"') {
            size_t j = i + 1;
            while (j < s.size() && s[j] != '"') {
                if (s[j] == '\\') ++j;
                ++j;
            }
            if (j >= s.size()) return fail("unterminated quoted string");
            SKIFF_TRY(str, unquote(s.substr(i + 1, j - i - 1)));
            push({Tk::Literal, std::string(s.substr(i, j + 1 - i)), {}, json(str)});
            i = j + 1;
            continue;
        }
        if (c == '`') {
            size_t j = s.find('`', i + 1);
            if (j == std::string_view::npos) return fail("unterminated raw quoted string");
            push({Tk::Literal, std::string(s.substr(i, j + 1 - i)), {}, json(std::string(s.substr(i + 1, j - i - 1)))});
            i = j + 1;
            continue;
        }
        if (c == '\'') {
            // A character constant is the number of its code point.
            size_t j = i + 1;
            while (j < s.size() && s[j] != '\'') {
                if (s[j] == '\\') ++j;
                ++j;
            }
            if (j >= s.size()) return fail("unterminated character constant");
            SKIFF_TRY(str, unquote(s.substr(i + 1, j - i - 1)));
            uint32_t cp = 0;
            if (str.empty() || utf8_seq(str, 0, &cp) != str.size()) return fail("malformed character constant");
            push({Tk::Literal, std::string(s.substr(i, j + 1 - i)), {}, json(static_cast<int64_t>(cp))});
            i = j + 1;
            continue;
        }
        bool digit_next = i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]));
        if (std::isdigit(static_cast<unsigned char>(c)) || ((c == '-' || c == '+' || c == '.') && digit_next)) {
            size_t j = i + 1;
            while (j < s.size()) {
                char d = s[j];
                bool exp_sign = (d == '+' || d == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E' || s[j - 1] == 'p' || s[j - 1] == 'P');
                if (!(std::isalnum(static_cast<unsigned char>(d)) || d == '.' || d == '_' || exp_sign)) break;
                ++j;
            }
            std::string text(s.substr(i, j - i));
            SKIFF_TRY(v, parse_number(text));
            push({Tk::Literal, text, {}, v});
            i = j;
            continue;
        }
        if (c == '.') {
            if (i + 1 < s.size() && ident_start(s[i + 1])) {
                Token t{Tk::Field, "", {}, {}};
                size_t start = i;
                while (i < s.size() && s[i] == '.' && i + 1 < s.size() && ident_start(s[i + 1])) {
                    size_t j = i + 1;
                    while (j < s.size() && ident_char(s[j])) ++j;
                    t.fields.emplace_back(s.substr(i + 1, j - i - 1));
                    i = j;
                }
                t.text = std::string(s.substr(start, i - start));
                push(std::move(t));
                continue;
            }
            push({Tk::Dot, ".", {}, {}});
            ++i;
            continue;
        }
        if (c == '$') {
            size_t j = i + 1;
            while (j < s.size() && ident_char(s[j])) ++j;
            push({Tk::Var, std::string(s.substr(i, j - i)), {}, {}});
            i = j;
            continue;
        }
        if (ident_start(c)) {
            size_t j = i;
            while (j < s.size() && ident_char(s[j])) ++j;
            std::string word(s.substr(i, j - i));
            if (word == "true" || word == "false") push({Tk::Literal, word, {}, json(word == "true")});
            else if (word == "nil") push({Tk::Literal, word, {}, json(nullptr)});
            else push({Tk::Ident, word, {}, {}});
            i = j;
            continue;
        }
        if (c == '}') return fail("unexpected \"}\" in operand");
        return fail("unrecognized character in action: \"" + std::string(1, c) + "\"");
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Syntax tree.

struct Pipeline;

struct Arg {
    enum Kind { Field, Dot, Var, Func, Literal, Sub } kind = Dot;
    std::string name;                 // Var or Func
    std::vector<std::string> fields;  // Field, or fields chained after Var/Sub
    json value;                       // Literal
    std::shared_ptr<Pipeline> sub;    // Sub
};

struct Command {
    std::vector<Arg> args;
};

struct Pipeline {
    std::vector<std::string> decls;
    bool assign = false;  // "=" rather than ":="
    std::vector<Command> cmds;
};

struct Node {
    enum Kind { Text, Action, If, Range, With } kind = Text;
    std::string text;     // Text; for the others the action as written (for messages)
    Pipeline pipe;
    std::vector<Node> body, else_body;
};

const char* const kFunctions[] = {"and", "or", "not", "len", "index", "print", "printf",
                                  "println", "eq", "ne", "lt", "le", "gt", "ge", "json",
                                  "split", "join", "title", "lower", "upper", "pad",
                                  "truncate"};

bool known_function(const std::string& name) {
    return std::find(std::begin(kFunctions), std::end(kFunctions), name) != std::end(kFunctions);
}

// One piece of the source: literal text, or an action's tokens.
struct Piece {
    bool action = false;
    std::string text;  // literal text, or the action as written ("{{.A}}") for messages
    std::vector<Token> tokens;
};

std::string quote_snippet(std::string_view s) {
    std::string t(s.substr(0, 60));
    if (s.size() > 60) t += "...";
    return "\"" + t + "\"";
}

std::unexpected<Error> parse_error(const std::string& what, std::string_view snippet) {
    return fail("template: " + what + " in " + quote_snippet(snippet));
}

// docker's formatter turns the two characters \t and \n typed in the flag into a tab and a
// newline; inside actions Go's own string escapes already do that.
std::string unescape_text(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n')) {
            out += s[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

void trim_right_space(std::string& s) {
    while (!s.empty() && space(s.back())) s.pop_back();
}

Result<std::vector<Piece>> split_pieces(std::string_view src) {
    std::vector<Piece> pieces;
    bool trim_next = false;
    size_t pos = 0;
    auto add_text = [&](std::string_view raw, bool trim_left, bool trim_right) {
        if (trim_left) {
            size_t k = 0;
            while (k < raw.size() && space(raw[k])) ++k;
            raw.remove_prefix(k);
        }
        std::string t(raw);
        if (trim_right) trim_right_space(t);
        if (!t.empty()) pieces.push_back({false, unescape_text(t), {}});
    };
    while (pos <= src.size()) {
        size_t open = src.find("{{", pos);
        if (open == std::string_view::npos) {
            add_text(src.substr(pos), trim_next, false);
            break;
        }
        size_t in = open + 2;
        bool trim_before = in + 1 < src.size() && src[in] == '-' && space(src[in + 1]);
        add_text(src.substr(pos, open - pos), trim_next, trim_before);
        if (trim_before) in += 2;
        std::string_view rest = src.substr(open);

        // Comments: {{/* ... */}}, only directly after the delimiter (and trim marker).
        if (src.substr(in, 2) == "/*") {
            size_t close = src.find("*/", in + 2);
            if (close == std::string_view::npos) return parse_error("unclosed comment", rest);
            size_t after = close + 2;
            trim_next = false;
            if (src.substr(after, 4) == " -}}") {
                trim_next = true;
                after += 4;
            } else if (src.substr(after, 2) == "}}") {
                after += 2;
            } else {
                return parse_error("comment ends before closing delimiter", rest);
            }
            pos = after;
            continue;
        }

        // Find the closing delimiter, skipping quoted strings that may contain "}}".
        size_t i = in;
        size_t close = std::string_view::npos;
        while (i < src.size()) {
            char c = src[i];
            if (c == '"' || c == '\'') {
                size_t j = i + 1;
                while (j < src.size() && src[j] != c && src[j] != '\n') {
                    if (src[j] == '\\') ++j;
                    ++j;
                }
                if (j >= src.size() || src[j] != c)
                    return parse_error(c == '"' ? "unterminated quoted string" : "unterminated character constant", rest);
                i = j + 1;
                continue;
            }
            if (c == '`') {
                size_t j = src.find('`', i + 1);
                if (j == std::string_view::npos) return parse_error("unterminated raw quoted string", rest);
                i = j + 1;
                continue;
            }
            if (src.substr(i, 2) == "}}") {
                close = i;
                break;
            }
            if (c == '}') return parse_error("unexpected \"}\" in operand", rest);
            ++i;
        }
        if (close == std::string_view::npos) return parse_error("unclosed action", rest);
        std::string_view inner = src.substr(in, close - in);
        std::string_view written = src.substr(open, close + 2 - open);
        trim_next = false;
        if (inner.size() >= 2 && inner.back() == '-' && space(inner[inner.size() - 2])) {
            trim_next = true;
            inner.remove_suffix(2);
        }
        auto tokens = lex_action(inner);
        if (!tokens) return parse_error(tokens.error().what, written);
        pieces.push_back({true, std::string(written), std::move(*tokens)});
        pos = close + 2;
    }
    return pieces;
}

class Parser {
public:
    explicit Parser(std::vector<Piece> pieces) : p_(std::move(pieces)) {}

    Result<std::vector<Node>> parse_all() {
        std::vector<Node> nodes;
        std::string stop;
        SKIFF_CHECK(parse_list(nodes, stop));
        if (!stop.empty()) return parse_error("unexpected {{" + stop + "}}", p_[stop_piece_].text);
        return nodes;
    }

private:
    std::vector<Piece> p_;
    size_t i_ = 0;
    size_t stop_piece_ = 0;

    // Nodes up to the next {{end}}/{{else}} (named in `stop`) or the end of input (stop "").
    Status parse_list(std::vector<Node>& out, std::string& stop) {
        while (i_ < p_.size()) {
            const Piece& pc = p_[i_++];
            if (!pc.action) {
                out.push_back(Node{Node::Text, pc.text, {}, {}, {}});
                continue;
            }
            const auto& tk = pc.tokens;
            if (!tk.empty() && tk[0].kind == Tk::Ident) {
                const std::string& w = tk[0].text;
                if (w == "end" || w == "else") {
                    if (w == "end" && tk.size() > 1) return parse_error("unexpected " + tk[1].text + " in end", pc.text);
                    stop = w;
                    stop_piece_ = i_ - 1;
                    return ok();
                }
                if (w == "if" || w == "range" || w == "with") {
                    SKIFF_TRY(node, parse_control(pc, 1));
                    out.push_back(std::move(node));
                    continue;
                }
                if (w == "define" || w == "template" || w == "block" || w == "break" || w == "continue")
                    return parse_error("{{" + w + "}} is not supported", pc.text);
            }
            Node n{Node::Action, pc.text, {}, {}, {}};
            size_t j = 0;
            SKIFF_TRY(pipe, parse_pipeline(pc, j, false, false));
            n.pipe = std::move(pipe);
            out.push_back(std::move(n));
        }
        stop.clear();
        return ok();
    }

    // if/range/with whose keyword is pc.tokens[first - 1]; consumes through its {{end}}.
    Result<Node> parse_control(const Piece& pc, size_t first) {
        const std::string& word = pc.tokens[first - 1].text;
        Node n;
        n.kind = word == "if" ? Node::If : word == "range" ? Node::Range : Node::With;
        n.text = pc.text;
        size_t j = first;
        SKIFF_TRY(pipe, parse_pipeline(pc, j, false, n.kind == Node::Range));
        n.pipe = std::move(pipe);
        std::string stop;
        SKIFF_CHECK(parse_list(n.body, stop));
        if (stop.empty()) return parse_error("unexpected EOF", pc.text);
        if (stop == "else") {
            const Piece& ep = p_[stop_piece_];
            if (ep.tokens.size() > 1) {
                // {{else if ...}} / {{else with ...}}: a nested control sharing our {{end}}.
                const Token& t1 = ep.tokens[1];
                if (t1.kind != Tk::Ident || (t1.text != "if" && t1.text != "with"))
                    return parse_error("unexpected " + t1.text + " in else", ep.text);
                SKIFF_TRY(nested, parse_control(ep, 2));
                n.else_body.push_back(std::move(nested));
                return n;
            }
            SKIFF_CHECK(parse_list(n.else_body, stop));
            if (stop.empty()) return parse_error("unexpected EOF", pc.text);
            if (stop == "else") return parse_error("expected end; found {{else}}", p_[stop_piece_].text);
        }
        return n;
    }

    Result<Pipeline> parse_pipeline(const Piece& pc, size_t& j, bool in_paren, bool two_decls) {
        const auto& tk = pc.tokens;
        Pipeline pl;
        if (j < tk.size() && tk[j].kind == Tk::Var) {
            if (j + 1 < tk.size() && (tk[j + 1].kind == Tk::Declare || tk[j + 1].kind == Tk::Assign)) {
                pl.decls = {tk[j].text};
                pl.assign = tk[j + 1].kind == Tk::Assign;
                j += 2;
            } else if (two_decls && j + 3 < tk.size() && tk[j + 1].kind == Tk::Comma &&
                       tk[j + 2].kind == Tk::Var && tk[j + 3].kind == Tk::Declare) {
                pl.decls = {tk[j].text, tk[j + 2].text};
                j += 4;
            }
        }
        for (;;) {
            Command cmd;
            while (j < tk.size() && tk[j].kind != Tk::Pipe && tk[j].kind != Tk::RParen) {
                SKIFF_TRY(arg, parse_operand(pc, j));
                cmd.args.push_back(std::move(arg));
            }
            if (cmd.args.empty()) return parse_error("missing value for command", pc.text);
            pl.cmds.push_back(std::move(cmd));
            if (j < tk.size() && tk[j].kind == Tk::Pipe) {
                ++j;
                continue;
            }
            break;
        }
        if (in_paren) {
            if (j >= tk.size() || tk[j].kind != Tk::RParen) return parse_error("unclosed left paren", pc.text);
            ++j;
        } else if (j < tk.size()) {
            return parse_error("unexpected \"" + tk[j].text + "\" in command", pc.text);
        }
        return pl;
    }

    Result<Arg> parse_operand(const Piece& pc, size_t& j) {
        const auto& tk = pc.tokens;
        const Token& t = tk[j++];
        Arg a;
        switch (t.kind) {
            case Tk::Field: a.kind = Arg::Field; a.fields = t.fields; break;
            case Tk::Dot: a.kind = Arg::Dot; break;
            case Tk::Var: a.kind = Arg::Var; a.name = t.text; break;
            case Tk::Literal: a.kind = Arg::Literal; a.value = t.value; break;
            case Tk::Ident:
                if (!known_function(t.text)) {
                    static const char* const kKeywords[] = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"};
                    if (std::find(std::begin(kKeywords), std::end(kKeywords), t.text) != std::end(kKeywords))
                        return parse_error("unexpected <" + t.text + "> in command", pc.text);
                    return fail("template: function \"" + t.text + "\" not defined");
                }
                a.kind = Arg::Func;
                a.name = t.text;
                break;
            case Tk::LParen: {
                a.kind = Arg::Sub;
                SKIFF_TRY(sub, parse_pipeline(pc, j, true, false));
                a.sub = std::make_shared<Pipeline>(std::move(sub));
                break;
            }
            default: return parse_error("unexpected \"" + t.text + "\" in operand", pc.text);
        }
        // $x.Field and (pipeline).Field chain field lookups onto the operand.
        while (j < tk.size() && tk[j].kind == Tk::Field && !tk[j].space_before &&
               (a.kind == Arg::Var || a.kind == Arg::Sub)) {
            a.fields.insert(a.fields.end(), tk[j].fields.begin(), tk[j].fields.end());
            ++j;
        }
        if (j < tk.size() && !tk[j].space_before && tk[j].kind != Tk::Pipe && tk[j].kind != Tk::RParen &&
            tk[j].kind != Tk::Comma && tk[j].kind != Tk::Declare && tk[j].kind != Tk::Assign)
            return parse_error("unexpected \"" + tk[j].text + "\" in operand", pc.text);
        return a;
    }
};

// ---------------------------------------------------------------------------------------
// Functions.

// A string argument; JSON has no typed string fields so other scalars are printed (null is "").
std::string str_arg(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return go_print(v);
}

Result<int64_t> int_arg(const json& v) {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
    return fail("expected integer; found " + go_print(v));
}

Status want_args(const std::string& name, const std::vector<json>& a, size_t n) {
    if (a.size() != n)
        return fail("wrong number of args for " + name + ": want " + std::to_string(n) + " got " + std::to_string(a.size()));
    return ok();
}

bool is_number(const json& v) { return v.is_number(); }

// eq/ne: basic values only, numbers compare by value whatever their JSON representation.
Result<bool> basic_equal(const json& a, const json& b) {
    if (a.is_array() || a.is_object() || b.is_array() || b.is_object()) return fail("non-comparable type");
    if (is_number(a) && is_number(b)) {
        if (a.is_number_integer() && b.is_number_integer()) {
            if (a.is_number_unsigned() || b.is_number_unsigned()) return a == b;
            return a.get<int64_t>() == b.get<int64_t>();
        }
        return a.get<double>() == b.get<double>();
    }
    if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
    if (a.type() != b.type()) return fail("incompatible types for comparison");
    return a == b;
}

Result<int> compare(const json& a, const json& b) {
    if (is_number(a) && is_number(b)) {
        double x = a.get<double>(), y = b.get<double>();
        if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() && !b.is_number_unsigned()) {
            int64_t p = a.get<int64_t>(), q = b.get<int64_t>();
            return p < q ? -1 : p > q ? 1 : 0;
        }
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.type() != b.type() && !(is_number(a) && is_number(b))) return fail("incompatible types for comparison");
    return fail("invalid type for comparison");
}

// fmt.Sprint: a space between operands when neither side is a string.
std::string go_sprint(const std::vector<json>& a) {
    std::string out;
    for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0 && !a[i].is_string() && !a[i - 1].is_string()) out += ' ';
        go_print(out, a[i]);
    }
    return out;
}

std::string go_sprintln(const std::vector<json>& a) {
    std::string out;
    for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ' ';
        go_print(out, a[i]);
    }
    return out + "\n";
}

// fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %x and %%, with flags -, 0 and width.
std::string go_sprintf(const std::string& f, const std::vector<json>& a) {
    std::string out;
    size_t ai = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') {
            out += f[i];
            continue;
        }
        bool left = false, zero = false, plus = false;
        size_t j = i + 1;
        for (; j < f.size() && (f[j] == '-' || f[j] == '0' || f[j] == '+' || f[j] == ' ' || f[j] == '#'); ++j) {
            if (f[j] == '-') left = true;
            if (f[j] == '0') zero = true;
            if (f[j] == '+') plus = true;
        }
        size_t width = 0;
        for (; j < f.size() && std::isdigit(static_cast<unsigned char>(f[j])); ++j) width = width * 10 + static_cast<size_t>(f[j] - '0');
        int prec = -1;
        if (j < f.size() && f[j] == '.') {
            prec = 0;
            for (++j; j < f.size() && std::isdigit(static_cast<unsigned char>(f[j])); ++j) prec = prec * 10 + (f[j] - '0');
        }
        if (j >= f.size()) {
            out += "%!(NOVERB)";
            break;
        }
        char verb = f[j];
        i = j;
        if (verb == '%') {
            out += '%';
            continue;
        }
        if (ai >= a.size()) {
            out += std::string("%!") + verb + "(MISSING)";
            continue;
        }
        const json& v = a[ai++];
        std::string s;
        bool numeric = is_number(v);
        switch (verb) {
            case 'v':
            case 's': s = go_print(v); if (verb == 's' && prec >= 0 && s.size() > static_cast<size_t>(prec)) s.resize(static_cast<size_t>(prec)); break;
            case 'q': json_string(s, str_arg(v)); break;
            case 't': s = v.is_boolean() ? go_print(v) : "%!t(" + go_type(v) + "=" + go_print(v) + ")"; break;
            case 'd':
                if (v.is_number_integer()) s = number_string(v, false);
                else s = "%!d(" + go_type(v) + "=" + go_print(v) + ")";
                break;
            case 'x':
            case 'X':
                if (v.is_number_integer()) {
                    char buf[32];
                    auto r = std::to_chars(buf, buf + sizeof buf, v.get<int64_t>(), 16);
                    s.assign(buf, r.ptr);
                } else {
                    static const char hex[] = "0123456789abcdef";
                    for (unsigned char c : str_arg(v)) { s += hex[c >> 4]; s += hex[c & 0xF]; }
                }
                if (verb == 'X') std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
                break;
            case 'f':
            case 'e':
            case 'g':
                if (numeric) {
                    char buf[400];
                    auto fmt = verb == 'f' ? std::chars_format::fixed : verb == 'e' ? std::chars_format::scientific : std::chars_format::general;
                    auto r = prec >= 0 || verb != 'g' ? std::to_chars(buf, buf + sizeof buf, v.get<double>(), fmt, prec >= 0 ? prec : 6)
                                                      : std::to_chars(buf, buf + sizeof buf, v.get<double>());
                    s.assign(buf, r.ptr);
                } else {
                    s = std::string("%!") + verb + "(" + go_type(v) + "=" + go_print(v) + ")";
                }
                break;
            default: s = std::string("%!") + verb + "(" + go_type(v) + "=" + go_print(v) + ")"; break;
        }
        if (plus && numeric && !s.empty() && s[0] != '-') s = "+" + s;
        if (s.size() < width) {
            size_t pad = width - s.size();
            if (left) s += std::string(pad, ' ');
            else if (zero && numeric) s.insert(s[0] == '-' || s[0] == '+' ? 1 : 0, std::string(pad, '0'));
            else s.insert(0, std::string(pad, ' '));
        }
        out += s;
    }
    if (ai < a.size()) {
        out += "%!(EXTRA ";
        for (size_t k = ai; k < a.size(); ++k) {
            if (k > ai) out += ", ";
            out += go_type(a[k]) + "=" + go_print(a[k]);
        }
        out += ")";
    }
    return out;
}

// strings.Title: the first letter of each word upper-cased (ASCII letters; other bytes kept).
std::string go_title(const std::string& s) {
    std::string out = s;
    bool prev_sep = true;
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (prev_sep && u < 0x80) c = static_cast<char>(std::toupper(u));
        prev_sep = u < 0x80 && !(std::isalnum(u) || u == '_');
    }
    return out;
}

Result<json> call_function(const std::string& name, const std::vector<json>& a) {
    if (name == "and" || name == "or") {
        if (a.empty()) return fail("wrong number of args for " + name + ": want at least 1 got 0");
        for (size_t i = 0; i + 1 < a.size(); ++i)
            if (truthy(a[i]) == (name == "or")) return a[i];
        return a.back();
    }
    if (name == "not") {
        SKIFF_CHECK(want_args(name, a, 1));
        return json(!truthy(a[0]));
    }
    if (name == "len") {
        SKIFF_CHECK(want_args(name, a, 1));
        if (a[0].is_string()) return json(static_cast<int64_t>(a[0].get_ref<const std::string&>().size()));
        if (a[0].is_array() || a[0].is_object()) return json(static_cast<int64_t>(a[0].size()));
        if (a[0].is_null()) return json(0);
        return fail("len of type " + go_type(a[0]));
    }
    if (name == "index") {
        if (a.empty()) return fail("wrong number of args for index: want at least 1 got 0");
        json v = a[0];
        for (size_t i = 1; i < a.size(); ++i) {
            if (v.is_array()) {
                SKIFF_TRY(k, int_arg(a[i]));
                if (k < 0 || static_cast<size_t>(k) >= v.size()) return fail("index out of range: " + std::to_string(k));
                json e = v[static_cast<size_t>(k)];
                v = std::move(e);
            } else if (v.is_object()) {
                if (!a[i].is_string()) return fail("cannot index map with type " + go_type(a[i]));
                // A missing key gives the map's zero value; docker's label maps are
                // map[string]string, so that is "" rather than <no value>.
                auto it = v.find(a[i].get<std::string>());
                json e = it == v.end() ? json("") : *it;
                v = std::move(e);
            } else if (v.is_null()) {
                v = json("");
            } else if (v.is_string()) {
                SKIFF_TRY(k, int_arg(a[i]));
                const auto& s = v.get_ref<const std::string&>();
                if (k < 0 || static_cast<size_t>(k) >= s.size()) return fail("index out of range: " + std::to_string(k));
                v = json(static_cast<int64_t>(static_cast<unsigned char>(s[static_cast<size_t>(k)])));
            } else {
                return fail("can't index item of type " + go_type(v));
            }
        }
        return v;
    }
    if (name == "print") return json(go_sprint(a));
    if (name == "println") return json(go_sprintln(a));
    if (name == "printf") {
        if (a.empty()) return fail("wrong number of args for printf: want at least 1 got 0");
        return json(go_sprintf(str_arg(a[0]), std::vector<json>(a.begin() + 1, a.end())));
    }
    if (name == "eq" || name == "ne") {
        if (a.size() < 2) return fail("missing argument for comparison");
        bool any = false;
        for (size_t i = 1; i < a.size(); ++i) {
            SKIFF_TRY(e, basic_equal(a[0], a[i]));
            if (e) any = true;
        }
        if (name == "ne") {
            if (a.size() != 2) return fail("wrong number of args for ne: want 2 got " + std::to_string(a.size()));
            return json(!any);
        }
        return json(any);
    }
    if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
        SKIFF_CHECK(want_args(name, a, 2));
        SKIFF_TRY(c, compare(a[0], a[1]));
        bool r = name == "lt" ? c < 0 : name == "le" ? c <= 0 : name == "gt" ? c > 0 : c >= 0;
        return json(r);
    }
    if (name == "json") {
        SKIFF_CHECK(want_args(name, a, 1));
        return json(go_json(a[0]));
    }
    if (name == "split") {
        SKIFF_CHECK(want_args(name, a, 2));
        std::string s = str_arg(a[0]), sep = str_arg(a[1]);
        json out = json::array();
        if (sep.empty()) {
            // strings.Split with "" splits after each UTF-8 sequence.
            for (size_t i = 0; i < s.size();) {
                uint32_t cp = 0;
                size_t n = utf8_seq(s, i, &cp);
                if (n == 0) n = 1;
                out.push_back(s.substr(i, n));
                i += n;
            }
            return out;
        }
        size_t pos = 0;
        for (;;) {
            size_t k = s.find(sep, pos);
            if (k == std::string::npos) {
                out.push_back(s.substr(pos));
                break;
            }
            out.push_back(s.substr(pos, k - pos));
            pos = k + sep.size();
        }
        return out;
    }
    if (name == "join") {
        SKIFF_CHECK(want_args(name, a, 2));
        std::string sep = str_arg(a[1]);
        if (a[0].is_null()) return json("");
        if (!a[0].is_array()) return fail("wrong type for value; expected []string; got " + go_type(a[0]));
        std::string out;
        bool first = true;
        for (const auto& e : a[0]) {
            if (!first) out += sep;
            first = false;
            out += str_arg(e);
        }
        return json(out);
    }
    if (name == "upper" || name == "lower" || name == "title") {
        SKIFF_CHECK(want_args(name, a, 1));
        std::string s = str_arg(a[0]);
        if (name == "title") return json(go_title(s));
        for (char& c : s) {
            auto u = static_cast<unsigned char>(c);
            if (u < 0x80) c = static_cast<char>(name == "upper" ? std::toupper(u) : std::tolower(u));
        }
        return json(s);
    }
    if (name == "pad") {
        // docker: spaces before and after, but only around a non-empty string.
        SKIFF_CHECK(want_args(name, a, 3));
        std::string s = str_arg(a[0]);
        SKIFF_TRY(pre, int_arg(a[1]));
        SKIFF_TRY(post, int_arg(a[2]));
        if (s.empty()) return json(s);
        return json(std::string(static_cast<size_t>(std::max<int64_t>(pre, 0)), ' ') + s +
                    std::string(static_cast<size_t>(std::max<int64_t>(post, 0)), ' '));
    }
    if (name == "truncate") {
        // docker: the first n bytes.
        SKIFF_CHECK(want_args(name, a, 2));
        std::string s = str_arg(a[0]);
        SKIFF_TRY(n, int_arg(a[1]));
        if (n < 0) return fail("slice bounds out of range");
        if (s.size() < static_cast<size_t>(n)) return json(s);
        return json(s.substr(0, static_cast<size_t>(n)));
    }
    return fail("function \"" + name + "\" not defined");
}

// ---------------------------------------------------------------------------------------
// Execution.

// "CreatedSince" -> "CREATED SINCE", "ImageID" -> "IMAGE ID".
std::string header_words(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (i > 0 && std::isupper(c)) {
            auto prev = static_cast<unsigned char>(s[i - 1]);
            bool next_lower = i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
            if (std::islower(prev) || std::isdigit(prev) || (std::isupper(prev) && next_lower)) out += ' ';
        }
        out += static_cast<char>(std::toupper(c));
    }
    return out;
}

std::string join_fields(const std::vector<std::string>& f) {
    std::string out;
    for (const auto& s : f) {
        if (!out.empty()) out += '.';
        out += s;
    }
    return out;
}

class Exec {
public:
    Exec(const json& root, const json* headers) : headers_(headers) { vars_.emplace_back("$", root); }

    Status run(const std::vector<Node>& nodes, const json& dot) {
        size_t mark = vars_.size();
        for (const auto& n : nodes) SKIFF_CHECK(run_node(n, dot));
        vars_.resize(mark);
        return ok();
    }

    std::string out;

private:
    const json* headers_;  // non-null: rendering the table header, not a row
    std::vector<std::pair<std::string, json>> vars_;

    bool header_mode() const { return headers_ != nullptr; }

    static std::unexpected<Error> exec_error(const Node& n, const Error& e) {
        if (e.what.rfind("template: ", 0) == 0) return std::unexpected(e);
        return fail("template: " + e.what + " in " + quote_snippet(n.text));
    }

    Status run_node(const Node& n, const json& dot) {
        switch (n.kind) {
            case Node::Text: out += n.text; return ok();
            case Node::Action: {
                auto v = eval_pipeline(n.pipe, dot, true);
                if (!v) return exec_error(n, v.error());
                if (n.pipe.decls.empty()) out += print_action(*v);
                return ok();
            }
            case Node::If:
            case Node::With: {
                size_t mark = vars_.size();
                auto v = eval_pipeline(n.pipe, dot, true);
                if (!v) return exec_error(n, v.error());
                if (header_mode()) SKIFF_CHECK(run(n.body, dot));
                else if (truthy(*v)) SKIFF_CHECK(run(n.body, n.kind == Node::With ? *v : dot));
                else SKIFF_CHECK(run(n.else_body, dot));
                vars_.resize(mark);
                return ok();
            }
            case Node::Range: return run_range(n, dot);
        }
        return ok();
    }

    Status run_range(const Node& n, const json& dot) {
        auto v = eval_pipeline(n.pipe, dot, false);
        if (!v) return exec_error(n, v.error());
        if (header_mode()) return run(n.body, dot);
        auto iterate = [&](const json& key, const json& elem) -> Status {
            size_t mark = vars_.size();
            if (n.pipe.decls.size() == 1) vars_.emplace_back(n.pipe.decls[0], elem);
            if (n.pipe.decls.size() == 2) {
                vars_.emplace_back(n.pipe.decls[0], key);
                vars_.emplace_back(n.pipe.decls[1], elem);
            }
            SKIFF_CHECK(run(n.body, elem));
            vars_.resize(mark);
            return ok();
        };
        if (v->is_array()) {
            if (v->empty()) return run(n.else_body, dot);
            for (size_t i = 0; i < v->size(); ++i) SKIFF_CHECK(iterate(json(static_cast<int64_t>(i)), (*v)[i]));
            return ok();
        }
        if (v->is_object()) {
            // Go ranges over a map in sorted key order; nlohmann's map is sorted already.
            if (v->empty()) return run(n.else_body, dot);
            for (auto it = v->begin(); it != v->end(); ++it) SKIFF_CHECK(iterate(json(it.key()), it.value()));
            return ok();
        }
        if (v->is_null()) return run(n.else_body, dot);
        if (v->is_number_integer()) {
            // Go 1.22: range over an integer n yields 0..n-1.
            int64_t count = v->get<int64_t>();
            if (count <= 0) return run(n.else_body, dot);
            for (int64_t i = 0; i < count; ++i) SKIFF_CHECK(iterate(json(i), json(i)));
            return ok();
        }
        return exec_error(n, Error{0, "range can't iterate over " + go_print(*v)});
    }

    // `declare`: false for range, whose variables are bound per element instead.
    Result<json> eval_pipeline(const Pipeline& pl, const json& dot, bool declare) {
        json value;
        bool have = false;
        for (const auto& cmd : pl.cmds) {
            SKIFF_TRY(v, eval_command(cmd, dot, have ? &value : nullptr));
            value = std::move(v);
            have = true;
        }
        if (declare && !pl.decls.empty()) {
            if (pl.assign) {
                auto* var = find_var(pl.decls[0]);
                if (!var) return fail("undefined variable: " + pl.decls[0]);
                *var = value;
            } else {
                vars_.emplace_back(pl.decls[0], value);
            }
        }
        return value;
    }

    json* find_var(const std::string& name) {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
            if (it->first == name) return &it->second;
        return nullptr;
    }

    Result<json> eval_command(const Command& cmd, const json& dot, const json* piped) {
        const Arg& first = cmd.args[0];
        if (first.kind == Arg::Func) {
            if (header_mode()) {
                // Like docker's HeaderFunctions: a function shows its field's header unchanged.
                if (piped) return *piped;
                for (size_t i = 1; i < cmd.args.size(); ++i)
                    if (cmd.args[i].kind == Arg::Field || cmd.args[i].kind == Arg::Sub) return eval_arg(cmd.args[i], dot);
                return json("");
            }
            std::vector<json> args;
            for (size_t i = 1; i < cmd.args.size(); ++i) {
                SKIFF_TRY(v, eval_arg(cmd.args[i], dot));
                args.push_back(std::move(v));
            }
            if (piped) args.push_back(*piped);
            auto r = call_function(first.name, args);
            if (!r) return fail("error calling " + first.name + ": " + r.error().what);
            return r;
        }
        if (cmd.args.size() > 1 || piped) return fail("can't give argument to non-function");
        return eval_arg(first, dot);
    }

    Result<json> lookup(json v, const std::vector<std::string>& fields) {
        for (const auto& f : fields) {
            if (v.is_object()) {
                auto it = v.find(f);
                json next = it == v.end() ? json(nullptr) : *it;
                v = std::move(next);
            } else if (v.is_null()) {
                // A missing parent reads as missing rather than Go's nil-pointer error.
                return json(nullptr);
            } else {
                return fail("can't evaluate field " + f + " in type " + go_type(v));
            }
        }
        return v;
    }

    json header_for(const std::vector<std::string>& fields) const {
        std::string full = join_fields(fields);
        if (headers_->is_object()) {
            auto it = headers_->find(full);
            if (it == headers_->end()) it = headers_->find(fields.back());
            if (it != headers_->end() && it->is_string()) return *it;
        }
        return json(header_words(fields.back()));
    }

    Result<json> eval_arg(const Arg& a, const json& dot) {
        switch (a.kind) {
            case Arg::Field:
                if (header_mode()) return header_for(a.fields);
                return lookup(dot, a.fields);
            case Arg::Dot: return header_mode() ? json("") : dot;
            case Arg::Var: {
                if (header_mode()) return json("");
                json* v = find_var(a.name);
                if (!v) return fail("undefined variable: " + a.name);
                return lookup(*v, a.fields);
            }
            case Arg::Func: {
                // A bare function name as an operand is a call without arguments.
                if (header_mode()) return json("");
                auto r = call_function(a.name, {});
                if (!r) return fail("error calling " + a.name + ": " + r.error().what);
                return r;
            }
            case Arg::Literal: return a.value;
            case Arg::Sub: {
                SKIFF_TRY(v, eval_pipeline(*a.sub, dot, true));
                if (header_mode()) return v;
                return lookup(std::move(v), a.fields);
            }
        }
        return json(nullptr);
    }
};

// Go's text/tabwriter (AlignLeft, padchar ' '): cells are tab-terminated, the text after a
// line's last tab is not part of any column. A column's width is decided per block of
// consecutive lines that have a cell in it.
class TabWriter {
public:
    TabWriter(const std::vector<std::vector<std::string>>& lines, size_t min_width, size_t padding)
        : lines_(lines), min_width_(min_width), padding_(padding) {}

    std::string run() {
        format(0, lines_.size());
        return std::move(out_);
    }

private:
    const std::vector<std::vector<std::string>>& lines_;
    size_t min_width_, padding_;
    std::vector<size_t> widths_;
    std::string out_;

    static size_t runes(const std::string& s) {
        size_t n = 0;
        for (unsigned char c : s)
            if ((c & 0xC0) != 0x80) ++n;
        return n;
    }

    void write_lines(size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) {
            const auto& line = lines_[i];
            for (size_t j = 0; j < line.size(); ++j) {
                out_ += line[j];
                if (j < widths_.size()) {
                    size_t w = runes(line[j]);
                    if (widths_[j] > w) out_.append(widths_[j] - w, ' ');
                }
            }
            out_ += '\n';
        }
    }

    void format(size_t line0, size_t line1) {
        size_t column = widths_.size();
        for (size_t t = line0; t < line1; ++t) {
            if (column + 1 >= lines_[t].size()) continue;
            write_lines(line0, t);
            line0 = t;
            size_t width = min_width_;
            for (; t < line1; ++t) {
                if (column + 1 >= lines_[t].size()) break;
                width = std::max(width, runes(lines_[t][column]) + padding_);
            }
            widths_.push_back(width);
            format(line0, t);
            widths_.pop_back();
            line0 = t;
            if (t >= line1) break;
        }
        write_lines(line0, line1);
    }
};

std::vector<std::string> split_on(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
        size_t k = s.find(sep, pos);
        if (k == std::string::npos) {
            out.push_back(s.substr(pos));
            return out;
        }
        out.push_back(s.substr(pos, k - pos));
        pos = k + 1;
    }
}

std::string trim_spaces(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && s[b] == ' ') ++b;
    while (e > b && s[e - 1] == ' ') --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

struct GoTemplate::Impl {
    std::vector<Node> nodes;
    bool table = false;
    bool json_form = false;
};

GoTemplate::GoTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GoTemplate::~GoTemplate() = default;
GoTemplate::GoTemplate(GoTemplate&&) noexcept = default;
GoTemplate& GoTemplate::operator=(GoTemplate&&) noexcept = default;

Result<GoTemplate> GoTemplate::parse(std::string_view text) {
    auto impl = std::make_unique<Impl>();
    std::string src(text);
    if (src.rfind("table", 0) == 0) {
        // docker: "table" prefix, then the rest trimmed of spaces is the row template.
        impl->table = true;
        src = trim_spaces(std::string_view(src).substr(5));
    } else if (trim_spaces(src) == "json") {
        impl->json_form = true;
        src = "{{json .}}";
    }
    SKIFF_TRY(pieces, split_pieces(src));
    Parser parser(std::move(pieces));
    SKIFF_TRY(nodes, parser.parse_all());
    impl->nodes = std::move(nodes);
    return GoTemplate(std::move(impl));
}

Result<std::string> GoTemplate::render(const nlohmann::json& value) const {
    Exec exec(value, nullptr);
    SKIFF_CHECK(exec.run(impl_->nodes, value));
    return std::move(exec.out);
}

bool GoTemplate::is_table() const { return impl_->table; }
bool GoTemplate::is_json() const { return impl_->json_form; }

std::string GoTemplate::header(const nlohmann::json& headers) const {
    json empty = json::object();
    Exec exec(empty, &headers);
    // Header rendering cannot fail on data (there is none); on error show what was built.
    (void)exec.run(impl_->nodes, empty);
    return std::move(exec.out);
}

Result<std::string> render_rows(std::string_view format, const std::vector<nlohmann::json>& rows,
                                const nlohmann::json& headers) {
    SKIFF_TRY(tmpl, GoTemplate::parse(trim_spaces(format)));
    std::string out;
    if (tmpl.is_json()) {
        for (const auto& row : rows) out += go_json(row) + "\n";
        return out;
    }
    if (!tmpl.is_table()) {
        for (const auto& row : rows) {
            SKIFF_TRY(line, tmpl.render(row));
            out += line + "\n";
        }
        return out;
    }
    std::string text = tmpl.header(headers) + "\n";
    for (const auto& row : rows) {
        SKIFF_TRY(line, tmpl.render(row));
        text += line + "\n";
    }
    return tab_align(text);
}

std::string tab_align(std::string_view text, size_t min_width) {
    std::string s(text);
    bool final_newline = !s.empty() && s.back() == '\n';
    if (final_newline) s.pop_back();
    if (s.empty() && !final_newline) return "";
    std::vector<std::vector<std::string>> lines;
    for (auto& line : split_on(s, '\n')) lines.push_back(split_on(line, '\t'));
    std::string out = TabWriter(lines, min_width, 3).run();
    if (!final_newline) out.pop_back();
    return out;
}

std::string align_columns(const std::vector<std::vector<std::string>>& rows, size_t min_width) {
    return TabWriter(rows, min_width, 3).run();
}

}  // namespace skiff
