#include "common/go_template.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace skiff;
using nlohmann::json;

namespace {

// Render `text` over `value`, failing the test on a parse or execution error.
std::string render(std::string_view text, const json& value = json::object()) {
    auto t = GoTemplate::parse(text);
    if (!t) FAIL("parse: " << t.error().what);
    auto out = t->render(value);
    if (!out) FAIL("render: " << out.error().what);
    return *out;
}

// The error message of parsing, or of rendering when parsing succeeds.
std::string error_of(std::string_view text, const json& value = json::object()) {
    auto t = GoTemplate::parse(text);
    if (!t) return t.error().what;
    auto out = t->render(value);
    if (!out) return out.error().what;
    return "(no error; rendered \"" + *out + "\")";
}

const json kImage = {
    {"ID", "0123456789ab"},
    {"Repository", "alpine"},
    {"Tag", "3.19"},
    {"Names", {"web", "db"}},
    {"Labels", {{"com.example.b", "2"}, {"com.example.a", "1"}}},
    {"Config", {{"Cmd", {"sh", "-c", "echo hi"}}, {"Image", "alpine:3.19"}, {"Env", json::array()}}},
    {"Size", 4863488},
    {"Running", true},
};

}  // namespace

TEST_CASE("fields, nested fields and missing keys", "[go-template]") {
    CHECK(render("{{.Repository}}:{{.Tag}}", kImage) == "alpine:3.19");
    CHECK(render("{{.Config.Image}}", kImage) == "alpine:3.19");
    CHECK(render("{{.Config.Cmd}}", kImage) == "[sh -c echo hi]");
    CHECK(render("{{.Labels.foo}}", kImage) == "<no value>");
    CHECK(render("{{.Nope}}", kImage) == "<no value>");
    CHECK(render("{{.Nope.Deeper}}", kImage) == "<no value>");
    CHECK(render("plain text only") == "plain text only");
    CHECK(render("") == "");
}

TEST_CASE("values print as Go's fmt prints them", "[go-template]") {
    CHECK(render("{{.}}", "bare string") == "bare string");
    CHECK(render("{{.}}", 42) == "42");
    CHECK(render("{{.}}", -7) == "-7");
    CHECK(render("{{.}}", 1.5) == "1.5");
    CHECK(render("{{.}}", 100000.0) == "100000");
    CHECK(render("{{.}}", 1e6) == "1e+06");
    CHECK(render("{{.}}", 1000000) == "1000000");
    CHECK(render("{{.}}", true) == "true");
    CHECK(render("{{.}}", false) == "false");
    CHECK(render("{{.}}", nullptr) == "<no value>");
    CHECK(render("{{.}}", json::array({"a", "b", "c"})) == "[a b c]");
    CHECK(render("{{.}}", json::array({1, "a", true, nullptr})) == "[1 a true <nil>]");
    CHECK(render("{{.}}", json::array()) == "[]");
    CHECK(render("{{.}}", json{{"k2", "v2"}, {"k", "v"}}) == "map[k:v k2:v2]");
    CHECK(render("{{.}}", json{{"a", {{"b", {1, 2}}}}}) == "map[a:map[b:[1 2]]]");
    CHECK(render("{{.}}", json::object()) == "map[]");
}

TEST_CASE("json is docker's: compact, sorted keys, no HTML escaping", "[go-template]") {
    json v = {{"b", "<&>"}, {"a", {1, 2.5, nullptr}}, {"c", {{"d", true}}}};
    CHECK(render("{{json .}}", v) == R"({"a":[1,2.5,null],"b":"<&>","c":{"d":true}})");
    CHECK(render("{{json .Config.Cmd}}", kImage) == R"(["sh","-c","echo hi"])");
    CHECK(render("{{json .Nope}}", kImage) == "null");
    CHECK(render("{{json .}}", std::string("q\"\\\n\t\x01\x7f")) == R"("q\"\\\n\t\u0001)" "\x7f\"");
    CHECK(render("{{json .}}", "\xe2\x80\xa8") == R"("\u2028")");
    CHECK(render("{{json .}}", "bad \xff utf8") == R"("bad \ufffd utf8")");
    CHECK(render("{{json .}}", "h\xc3\xa9") == "\"h\xc3\xa9\"");
    CHECK(render("{{json .}}", 1e21) == "1e+21");
    CHECK(render("{{json .}}", 1e-7) == "1e-7");
    CHECK(render("{{json .}}", 123456789.0) == "123456789");
    CHECK(render("{{.Labels | json}}", kImage) == R"({"com.example.a":"1","com.example.b":"2"})");
}

TEST_CASE("index, join, split, len", "[go-template]") {
    CHECK(render(R"({{index .Labels "com.example.a"}})", kImage) == "1");
    CHECK(render(R"({{index .Labels "absent"}})", kImage) == "");
    CHECK(render("{{index .Names 1}}", kImage) == "db");
    CHECK(render("{{index .Config.Cmd 2}}", kImage) == "echo hi");
    CHECK(render(R"({{join .Names ", "}})", kImage) == "web, db");
    CHECK(render(R"({{join .Config.Env ","}})", kImage) == "");
    CHECK(render(R"({{split .Config.Image ":"}})", kImage) == "[alpine 3.19]");
    CHECK(render(R"({{index (split .Config.Image ":") 0}})", kImage) == "alpine");
    CHECK(render(R"({{len (split "a,b,c" ",")}})") == "3");
    CHECK(render("{{len .Names}} {{len .Repository}} {{len .Labels}}", kImage) == "2 6 2");
    CHECK(error_of("{{index .Names 5}}", kImage).find("index out of range: 5") != std::string::npos);
}

TEST_CASE("string functions", "[go-template]") {
    CHECK(render("{{upper .Repository}}", kImage) == "ALPINE");
    CHECK(render(R"({{lower "MiXeD"}})") == "mixed");
    CHECK(render(R"({{title "hello world-wide web_site"}})") == "Hello World-Wide Web_site");
    CHECK(render("{{println .Repository .Size}}", kImage) == "alpine 4863488\n");
    CHECK(render(R"({{pad .Tag 1 2}}|{{pad "" 1 2}}|)", kImage) == " 3.19  ||");
    CHECK(render("{{truncate .ID 4}} {{truncate .Tag 10}}", kImage) == "0123 3.19");
    CHECK(render(R"({{printf "%-7s|%3d|%q" .Repository 7 .Tag}})", kImage) == "alpine |  7|\"3.19\"");
    CHECK(render(R"({{print "a" 1 2 "b"}})") == "a1 2b");
}

TEST_CASE("pipelines pass the value as the last argument", "[go-template]") {
    CHECK(render("{{.Repository | upper}}", kImage) == "ALPINE");
    CHECK(render("{{.Names | len}}", kImage) == "2");
    CHECK(render(R"({{.Tag | printf "%s-%s" "v"}})", kImage) == "v-3.19");
    CHECK(render(R"({{.Config.Image | split ":" | len}})", kImage) == "1");  // split(":", image)
    // As in Go, `.Names | join ","` calls join(",", .Names), which is a type error.
    CHECK(error_of(R"({{.Names | join ","}})", kImage).find("error calling join") != std::string::npos);
    CHECK(error_of(R"({{.Repository | .Tag}})", kImage).find("can't give argument to non-function") != std::string::npos);
}

TEST_CASE("if/else uses Go truthiness", "[go-template]") {
    const char* t = "{{if .}}yes{{else}}no{{end}}";
    for (const json& v : {json(""), json(0), json(0.0), json(false), json(nullptr), json::array(), json::object()})
        CHECK(render(t, v) == "no");
    for (const json& v : {json("x"), json(1), json(-1), json(0.5), json(true), json::array({0}), json{{"a", 0}}})
        CHECK(render(t, v) == "yes");
    CHECK(render("{{if .Nope}}yes{{end}}", kImage) == "");
    CHECK(render(R"({{if eq .Tag "latest"}}L{{else if eq .Tag "3.19"}}M{{else}}O{{end}})", kImage) == "M");
    CHECK(render(R"({{if and .Running (not .Nope)}}up{{end}})", kImage) == "up");
    CHECK(render(R"({{if or .Nope .Tag}}{{or .Nope .Tag}}{{end}})", kImage) == "3.19");
    CHECK(render("{{if gt .Size 1000}}big{{end}}{{if lt 1 2.5}}<{{end}}{{if ne .Size 1}}!{{end}}", kImage) == "big<!");
    CHECK(render("{{if eq .Size 4863488.0}}same{{end}}", kImage) == "same");
    CHECK(render("{{with .Config}}{{.Image}}{{end}}{{with .Nope}}x{{else}}-{{end}}", kImage) == "alpine:3.19-");
}

TEST_CASE("range over arrays and maps", "[go-template]") {
    CHECK(render("{{range .Names}}[{{.}}]{{end}}", kImage) == "[web][db]");
    CHECK(render("{{range .Labels}}{{.}};{{end}}", kImage) == "1;2;");
    CHECK(render("{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}", kImage) == "com.example.a=1 com.example.b=2 ");
    CHECK(render("{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}", kImage) == "0:web 1:db ");
    CHECK(render("{{range $n := .Names}}{{$n}}{{end}}", kImage) == "webdb");
    CHECK(render("{{range .Config.Env}}x{{else}}none{{end}}", kImage) == "none");
    CHECK(render("{{range .Nope}}x{{else}}none{{end}}", kImage) == "none");
    CHECK(render("{{range .Names}}{{$.Repository}}/{{.}} {{end}}", kImage) == "alpine/web alpine/db ");
    CHECK(render("{{range .}}{{.Name}},{{end}}", json::array({{{"Name", "a"}}, {{"Name", "b"}}})) == "a,b,");
    CHECK(error_of("{{range .Tag}}x{{end}}", kImage).find("range can't iterate over 3.19") != std::string::npos);
}

TEST_CASE("variables, comments, literals", "[go-template]") {
    CHECK(render("{{$r := .Repository}}{{$r}}:{{$r}}", kImage) == "alpine:alpine");
    CHECK(render("{{$x := 1}}{{range .Names}}{{$x = 2}}{{end}}{{$x}}", kImage) == "2");
    CHECK(render("{{$c := .Config}}{{$c.Image}}", kImage) == "alpine:3.19");
    CHECK(render("{{(index .Names 0)}} {{(.Config).Image}}", kImage) == "web alpine:3.19");
    CHECK(render("a{{/* a comment */}}b{{- /* trimmed */ -}} c") == "abc");
    CHECK(render(R"({{"quoted \"x\"\t"}}{{`raw\t`}}{{1}}{{-2}}{{0x10}}{{true}}{{'a'}})") == "quoted \"x\"\traw\\t1-216true97");
    CHECK(render(R"({{ "}}" }})") == "}}");
}

TEST_CASE("whitespace trimming markers", "[go-template]") {
    CHECK(render("a  \n {{- .Tag -}} \n  b", kImage) == "a3.19b");
    CHECK(render("{{.Tag}}\n{{- .Repository}}", kImage) == "3.19alpine");
    CHECK(render("{{range .Names -}}\n  {{.}}\n{{- end}}", kImage) == "webdb");
    CHECK(render("x {{-3}}") == "x -3");  // "{{-" without a space is a negative number
}

TEST_CASE("literal \\t and \\n in the flag text become tab and newline", "[go-template]") {
    CHECK(render(R"({{.Repository}}\t{{.Tag}}\n)", kImage) == "alpine\t3.19\n");
    CHECK(render(R"({{join .Names "\n"}})", kImage) == "web\ndb");
}

TEST_CASE("parse and execution errors", "[go-template]") {
    std::string e = error_of("{{.Foo}");
    CHECK(e.rfind("template: ", 0) == 0);
    CHECK(e.find("unexpected \"}\" in operand") != std::string::npos);
    CHECK(e.find("{{.Foo}") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(error_of("{{.Foo").find("unclosed action") != std::string::npos);
    CHECK(error_of("{{foo .X}}") == "template: function \"foo\" not defined");
    CHECK(error_of("{{.X | nosuch}}") == "template: function \"nosuch\" not defined");
    CHECK(error_of("{{if .X}}a").find("unexpected EOF") != std::string::npos);
    CHECK(error_of("{{range .X}}a{{else}}b").find("unexpected EOF") != std::string::npos);
    CHECK(error_of("a{{end}}").find("unexpected {{end}}") != std::string::npos);
    CHECK(error_of("{{else}}").find("unexpected {{else}}") != std::string::npos);
    CHECK(error_of("{{}}").find("missing value for command") != std::string::npos);
    CHECK(error_of("{{.A |}}").find("missing value for command") != std::string::npos);
    CHECK(error_of(R"({{"open}})").find("unterminated quoted string") != std::string::npos);
    CHECK(error_of("{{(.A}}").find("unclosed left paren") != std::string::npos);
    CHECK(error_of("{{template \"x\"}}").find("not supported") != std::string::npos);
    CHECK(error_of("{{/* open").find("unclosed comment") != std::string::npos);
    CHECK(error_of("{{$nope}}").find("undefined variable: $nope") != std::string::npos);
    std::string exec = error_of("{{.Tag.Major}}", kImage);
    CHECK(exec.rfind("template: ", 0) == 0);
    CHECK(exec.find("can't evaluate field Major in type string") != std::string::npos);
    CHECK(exec.find("{{.Tag.Major}}") != std::string::npos);
    CHECK(error_of("{{upper}}").find("wrong number of args for upper: want 1 got 0") != std::string::npos);
}

TEST_CASE("table and json forms", "[go-template]") {
    auto t = GoTemplate::parse(R"(table {{.ID}}\t{{.CreatedSince}}\t{{.Size}})");
    REQUIRE(t);
    CHECK(t->is_table());
    CHECK_FALSE(t->is_json());
    CHECK(t->header() == "ID\tCREATED SINCE\tSIZE");
    CHECK(t->header({{"ID", "IMAGE ID"}}) == "IMAGE ID\tCREATED SINCE\tSIZE");
    CHECK(*t->render(json{{"ID", "x"}, {"CreatedSince", "2 days ago"}, {"Size", "1MB"}}) == "x\t2 days ago\t1MB");

    auto h = GoTemplate::parse("table {{.ImageID}} {{upper .Name}} {{.Labels | json}} {{.Config.RunningFor}} {{.HTTPServer}} lit");
    REQUIRE(h);
    CHECK(h->header() == "IMAGE ID NAME LABELS RUNNING FOR HTTP SERVER lit");
    CHECK(h->header({{"Config.RunningFor", "CREATED"}, {"Name", "NAMES"}}) == "IMAGE ID NAMES LABELS CREATED HTTP SERVER lit");

    auto j = GoTemplate::parse("json");
    REQUIRE(j);
    CHECK(j->is_json());
    CHECK_FALSE(j->is_table());
    CHECK(*j->render(json{{"b", 1}, {"a", "<x>"}}) == R"({"a":"<x>","b":1})");

    auto plain = GoTemplate::parse("{{.ID}}");
    REQUIRE(plain);
    CHECK_FALSE(plain->is_table());
    CHECK_FALSE(plain->is_json());
}

TEST_CASE("render_rows: json, plain and table", "[go-template]") {
    std::vector<json> rows = {
        {{"ID", "abc"}, {"Repository", "alpine"}, {"Size", "4.86MB"}},
        {{"ID", "0123456789ab"}, {"Repository", "busybox"}, {"Size", "1.2MB"}},
    };
    CHECK(*render_rows("json", rows) ==
          "{\"ID\":\"abc\",\"Repository\":\"alpine\",\"Size\":\"4.86MB\"}\n"
          "{\"ID\":\"0123456789ab\",\"Repository\":\"busybox\",\"Size\":\"1.2MB\"}\n");
    CHECK(*render_rows("{{.Repository}}", rows) == "alpine\nbusybox\n");
    CHECK(*render_rows("{{.Repository}}", {}) == "");

    auto table = render_rows(R"(table {{.ID}}\t{{.Repository}}\t{{.Size}})", rows, {{"ID", "IMAGE ID"}});
    REQUIRE(table);
    CHECK(*table ==
          "IMAGE ID       REPOSITORY   SIZE\n"
          "abc            alpine       4.86MB\n"
          "0123456789ab   busybox      1.2MB\n");
    // Narrow columns still get docker's minimum width of 10.
    CHECK(*render_rows("table {{.ID}}\t{{.Size}}", {json{{"ID", "a"}, {"Size", "1B"}}}) ==
          "ID        SIZE\n"
          "a         1B\n");
    // No rows: the header alone.
    CHECK(*render_rows("table {{.ID}}\t{{.Size}}", {}) == "ID        SIZE\n");
    CHECK_FALSE(render_rows("{{.ID", rows));
}

TEST_CASE("align_columns behaves like Go's tabwriter", "[go-template]") {
    CHECK(align_columns({{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}}) ==
          "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n");
    CHECK(align_columns({{"a", "bb", "c"}, {"dddd", "e", "f"}}, 0) == "a      bb   c\ndddd   e    f\n");
    // The last cell is not padded, even when empty, and a cell's width counts characters.
    CHECK(align_columns({{"h\xc3\xa9", "x"}, {"abcd", ""}}, 0) == "h\xc3\xa9     x\nabcd   \n");
    // A line without a cell in a column ends that column's block: widths restart after it.
    CHECK(align_columns({{"a", "b", "c"}, {"x"}, {"long", "y"}}, 0) == "a   b   c\nx\nlong   y\n");
    CHECK(align_columns({}) == "");
    CHECK(tab_align("a\tb\nlonger\tc", 0) == "a        b\nlonger   c");
}
