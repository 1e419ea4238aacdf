// The Go text/template subset Docker users put in --format, evaluated over JSON values:
//   {{.Repository}}:{{.Tag}}    fields, nested (.Config.Cmd), map keys (.Labels.foo)
//   {{json .}} {{json .Config}} JSON of a value
//   {{index .Labels "k"}}       map/array lookup
//   {{join .Names ","}} {{upper .X}} {{lower .X}} {{title .X}} {{len .X}} {{println .X}}
//   {{if .X}}...{{else}}...{{end}}, {{range .X}}{{.}}{{end}}
//   "table {{.ID}}\t{{.Names}}"  a header row from the field names, then one row per item
//   "json"                      one JSON object per line (as docker's --format json)
// Values print as Go prints them: strings bare, arrays "[a b]", maps "map[k:v]", null "<no value>".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace skiff {

class GoTemplate {
public:
    // Err "template: <what is wrong> in \"<text>\"" for unbalanced braces, unknown functions,
    // unterminated if/range.
    static Result<GoTemplate> parse(std::string_view text);
    ~GoTemplate();
    GoTemplate(GoTemplate&&) noexcept;
    GoTemplate& operator=(GoTemplate&&) noexcept;

    // Render for one value. Missing fields render "<no value>" (as Go does on maps).
    Result<std::string> render(const nlohmann::json& value) const;
    // Docker's "table" form: true when the text started with "table".
    bool is_table() const;
    // Header row for a table: each {{.Field}} replaced by its upper-case, space-separated
    // name ("{{.CreatedSince}}" -> "CREATED SINCE"), or by `headers[field]` when given.
    std::string header(const nlohmann::json& headers = nlohmann::json::object()) const;
    bool is_json() const;  // the bare word "json"

private:
    struct Impl;
    explicit GoTemplate(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Render `rows` the way docker does for a list command: "json" -> one compact object per
// line; a table -> tab-aligned columns (padding like Go's tabwriter, minwidth 10, padding 3)
// with the header; otherwise one rendered line per row. Tabs ("\t" in the flag too) separate
// table columns.
Result<std::string> render_rows(std::string_view format, const std::vector<nlohmann::json>& rows,
                                const nlohmann::json& headers = nlohmann::json::object());

// Tab-aligned table like Go's tabwriter (padding 3, left aligned): used by default listings.
// Each row's cells but the last are column cells; every row ends with "\n". min_width 10 is
// docker's formatter (tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)): "STATUS    PORTS".
std::string align_columns(const std::vector<std::vector<std::string>>& rows, size_t min_width = 10);

// The same over text: lines split at '\n', cells at '\t' (what render_rows does for tables).
std::string tab_align(std::string_view text, size_t min_width = 10);

}  // namespace skiff
