public import Workflow

/// `ddrouter report --html FILE`: the same counts as the table (`AdminReport`, one source of
/// the numbers), as one self-contained page for the regional steering group: a bar chart per
/// municipality × clinic (and one for the region) of where the listed citizens stand, then the
/// full table. No script, no external asset (inline CSS and SVG; a Content-Security-Policy of
/// `default-src 'none'` so that nothing could be fetched even if it were referenced), counts
/// only: never a CPR, a citizen's name or free text. Every string (directory names, codes,
/// ids, dates) is HTML-escaped.
extension AdminReport {
    /// The chart's bars: a label and the report columns it adds up (a case is in at most one
    /// of `routed-cv` / `routed-clinic` and of the two `decided-*` columns).
    public static let chartStages: [(label: String, columns: [String])] = [
        ("listed", ["listed"]),
        ("held for consent", ["consent-held"]),
        ("routed", ["routed-cv", "routed-clinic"]),
        ("assessed", ["assessed"]),
        ("decided", ["decided-integrated", "decided-coordinated"]),
        ("transferred", ["transferred"]),
        ("overdue", ["overdue"]),
    ]

    /// The page. `asOf` is the civil date R10 deadlines were counted against, `generated` a
    /// timestamp text for the footer.
    public func html(directory: Directory, asOf: LocalDate, generated: String) -> String {
        let esc = Self.htmlEscape
        var totals: [String: Int] = [:]
        for row in rows { for (column, n) in row.counts { totals[column, default: 0] += n } }
        let clinicName = { (id: String) in directory.clinics.first { $0.id == id }?.name }

        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>ddrouter phase-in, as of \(esc(asOf.description))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
            h1 { font-size: 1.4em; margin: 0 0 .2em; }
            p.meta { color: #555; margin: 0 0 1em; }
            .charts { display: flex; flex-wrap: wrap; gap: 12px; }
            figure.chart { margin: 0; padding: 8px 10px; border: 1px solid #ddd; border-radius: 6px; }
            figure.chart.total { border-color: #888; }
            figcaption { font-weight: 600; }
            figcaption .clinic { font-weight: 400; color: #555; font-size: .9em; }
            svg text { font: 12px system-ui, sans-serif; fill: #1b1b1b; }
            svg rect.bar { fill: #3b6ea8; }
            svg g[data-stage="held for consent"] rect.bar { fill: #c7902a; }
            svg g[data-stage="overdue"] rect.bar { fill: #b3261e; }
            svg rect.track { fill: #eef1f5; }
            table { border-collapse: collapse; margin-top: 1.5em; }
            th, td { border: 1px solid #ccc; padding: 3px 7px; white-space: nowrap; }
            th { background: #f3f3f3; text-align: left; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            tfoot td { font-weight: 600; }
            </style>
            </head>
            <body>
            <h1>Phase-in progress per municipality × clinic</h1>
            <p class="meta">As of \(esc(asOf.description)) (R10 deadlines counted against this date); generated \(esc(generated)) by ddrouter report. Cases are counted in every stage they have reached; counts only, no citizen data.</p>
            <section class="charts">

            """
        out += Self.chart(caption: "Region", subtitle: "all municipalities", counts: totals,
                          municipality: "total", clinic: "", extraClass: " total")
        for row in rows {
            let name = directory.municipalities.first { $0.code == row.municipality }?.name
            out += Self.chart(
                caption: name.map { "\(row.municipality) \($0)" } ?? row.municipality,
                subtitle: clinicName(row.clinic).map { "\($0) (\(row.clinic))" } ?? row.clinic,
                counts: row.counts, municipality: row.municipality, clinic: row.clinic, extraClass: "")
        }
        out += "</section>\n<table>\n<thead><tr><th>municipality</th><th>clinic</th>"
        out += Self.columns.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows {
            let name = directory.municipalities.first { $0.code == row.municipality }?.name
            out += "<tr data-municipality=\"\(esc(row.municipality))\" data-clinic=\"\(esc(row.clinic))\">"
            out += "<td>\(esc(row.municipality))\(name.map { " " + esc($0) } ?? "")</td><td>\(esc(row.clinic))</td>"
            out += Self.columns.map { "<td class=\"n\" data-column=\"\(esc($0))\">\(row.counts[$0] ?? 0)</td>" }.joined()
            out += "</tr>\n"
        }
        out += "</tbody>\n<tfoot><tr data-municipality=\"total\"><td>total</td><td></td>"
        out += Self.columns.map { "<td class=\"n\" data-column=\"\(esc($0))\">\(totals[$0] ?? 0)</td>" }.joined()
        out += "</tr></tfoot>\n</table>\n"
        if unreadable > 0 {
            out += "<p class=\"meta\">\(unreadable) case(s) with a state this build cannot read are not counted.</p>\n"
        }
        out += "</body>\n</html>\n"
        return out
    }

    /// One bar chart: a bar per `chartStages` entry, scaled to the largest of them.
    static func chart(caption: String, subtitle: String, counts: [String: Int], municipality: String,
                      clinic: String, extraClass: String) -> String {
        let esc = htmlEscape
        let values = chartStages.map { stage in stage.columns.reduce(0) { $0 + (counts[$1] ?? 0) } }
        let scale = max(values.max() ?? 0, 1)
        let labelWidth = 112, barWidth = 200, rowHeight = 22, width = labelWidth + barWidth + 48
        let height = rowHeight * chartStages.count + 4
        let listed = values[0]
        let summary = zip(chartStages, values).map { "\($0.label) \($1)" }.joined(separator: ", ")
        var svg = """
            <figure class="chart\(extraClass)" data-municipality="\(esc(municipality))" data-clinic="\(esc(clinic))">
            <figcaption>\(esc(caption))<br><span class="clinic">\(esc(subtitle))</span></figcaption>
            <svg role="img" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" aria-label="\(esc(caption)): \(esc(summary))">
            <title>\(esc(caption)): \(esc(summary))</title>

            """
        for (i, (stage, value)) in zip(chartStages, values).enumerated() {
            let y = 2 + i * rowHeight
            let w = value == 0 ? 0 : max(2, value * barWidth / scale)
            let share = listed > 0 && i > 0 ? " (\(value * 100 / listed) %)" : ""
            svg += "<g data-stage=\"\(esc(stage.label))\" data-count=\"\(value)\">"
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(esc(stage.label))</text>"
            svg += "<rect class=\"track\" x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(barWidth)\" height=\"16\"></rect>"
            svg += "<rect class=\"bar\" x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"16\"></rect>"
            svg += "<text x=\"\(labelWidth + barWidth + 6)\" y=\"\(y + 15)\">\(value)\(esc(share))</text></g>\n"
        }
        return svg + "</svg>\n</figure>\n"
    }

    /// Text and attribute values: `&`, `<`, `>`, `"` and `'` as character references.
    public static func htmlEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
