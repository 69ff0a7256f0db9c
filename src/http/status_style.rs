//! Inline stylesheet of the status page (kept apart so the markup code stays readable).

/// Inline stylesheet: NHS Wales-like plain styling, system fonts only so nothing is fetched.
pub(super) const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:Arial,\"Liberation Sans\",\"Helvetica Neue\",Helvetica,sans-serif;color:#212b32;background:#f0f4f5;font-size:16px;line-height:1.45}\
.wrap{max-width:1240px;margin:0 auto;padding:0 24px}\
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#ffeb3b;color:#212b32;padding:8px;z-index:9}\
a{color:#325083}a:focus{outline:3px solid #ffeb3b;background:#ffeb3b;color:#212b32}\
header{background:#325083;color:#fff}\
.bar{display:flex;justify-content:space-between;align-items:center;padding-top:14px;padding-bottom:14px}\
.org{font-weight:700;font-size:1.15rem}\
header a,footer .lang a{color:#fff;font-weight:700}\
.hero{background:#fff;border-bottom:1px solid #d8dde0;padding:22px 0 18px}\
h1{font-size:1.85rem;line-height:1.2;margin:0 0 4px}\
.sub{margin:0 0 12px;color:#4c6272;font-size:1.05rem}\
.def{margin:0 0 4px;max-width:70em}\
.target{display:inline-block;margin:10px 0 0;font-weight:700;border-left:5px solid #325083;background:#e8edf5;padding:4px 12px}\
section{background:#fff;border:1px solid #d8dde0;border-radius:4px;padding:20px 24px;margin:20px 0}\
h2{font-size:1.4rem;margin:0 0 10px}h3{font-size:1.1rem;margin:18px 0 6px}\
.note{margin:0 0 12px;color:#4c6272;font-size:.92rem}\
table{border-collapse:collapse;width:100%;font-size:.93rem}\
caption{text-align:left;font-weight:700;color:#4c6272;padding:0 0 8px}\
th,td{padding:7px 10px;border-bottom:1px solid #d8dde0;text-align:left;vertical-align:top}\
thead th{background:#e8edf5;border-bottom:2px solid #325083;vertical-align:bottom}\
thead th.grp{text-align:center;border-bottom:1px solid #aebad0}\
.num{text-align:right;font-variant-numeric:tabular-nums}\
.gs{border-left:2px solid #aebad0}\
.code{display:block;color:#4c6272;font-weight:400;font-size:.82rem}\
th.bname{font-weight:700;min-width:12em}th.age{font-weight:400;white-space:nowrap}\
tbody.board{border-top:2px solid #aebad0}\
tbody.wales,tr.wales{background:#f4f6fa;border-top:3px solid #325083}\
.prov{background:#fbf8ef}thead th.prov{background:#f5eed8}\
.mv{display:flex;align-items:center;justify-content:space-between;gap:8px}\
.pct{font-size:1.1rem;font-weight:700;font-variant-numeric:tabular-nums}\
.cnt{display:block;color:#4c6272;font-size:.82rem;font-variant-numeric:tabular-nums}\
.rag{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;font-size:.8rem;font-weight:700}\
.rag-g{background:#007f3b;color:#fff}.rag-a{background:#ffb81c;color:#212b32}\
.rag-r{background:#d5281b;color:#fff}.rag-n{background:#e8edee;color:#4c6272;border:1px solid #aeb7bd}\
tr.warn{background:#fdf0ef}\
figure{margin:0 0 18px}svg.chart{width:100%;height:auto;display:block}\
details{margin-top:6px}summary{cursor:pointer;color:#325083}\
table.data{font-size:.82rem;margin-top:8px}table.data td,table.data thead th{text-align:right;padding:5px 8px}\
table.data thead th:first-child{text-align:left}table.data th[scope=row]{white-space:nowrap;padding:5px 8px}\
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\
footer{background:#325083;color:#fff;margin-top:24px;padding:16px 0 20px;font-size:.92rem}\
footer p{margin:0 0 6px}";
