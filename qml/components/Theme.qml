pragma Singleton
import QtQuick

// Colours and sizes used everywhere; one colour scale for sensitivity.
QtObject {
    readonly property color window: "#f3f4f7"
    readonly property color panel: "#ffffff"
    readonly property color sidebar: "#1f2430"
    readonly property color sidebarText: "#cfd5df"
    readonly property color sidebarMuted: "#7d8695"
    readonly property color accent: "#2f6fde"
    readonly property color text: "#1d2129"
    readonly property color muted: "#5a6270"
    readonly property color border: "#d8dce3"
    readonly property color rowAlt: "#f7f8fa"
    readonly property color error: "#a4261d"
    readonly property color errorBackground: "#fdecea"
    readonly property color notice: "#7a5a00"
    readonly property color noticeBackground: "#fff6da"
    readonly property color good: "#2e7d32"
    readonly property color bad: "#b3261e"
    readonly property int fontSize: 13
    readonly property int titleSize: 20
    readonly property int spacing: 12

    // 0: harmless (pale) .. 1: the output is ruined (deep red).
    function severityColor(s) {
        const stops = [[0.0, "#f1f7ee"], [0.35, "#fbe7a1"], [0.65, "#f59a4c"], [1.0, "#c62828"]];
        s = Math.max(0, Math.min(1, s));
        for (let i = 1; i < stops.length; ++i) {
            if (s <= stops[i][0]) {
                const a = Qt.color(stops[i - 1][1]), b = Qt.color(stops[i][1]);
                const t = (s - stops[i - 1][0]) / (stops[i][0] - stops[i - 1][0]);
                return Qt.rgba(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t,
                               a.b + (b.b - a.b) * t, 1);
            }
        }
        return stops[stops.length - 1][1];
    }
    function severityTextColor(s) { return s > 0.7 ? "white" : text }

    function bytes(n) {
        if (n === undefined || n === null) return "–";
        if (n >= 1048576) return (n / 1048576).toFixed(2) + " MB";
        if (n >= 1024) return (n / 1024).toFixed(1) + " KB";
        return n + " B";
    }
    // 1234567 -> "1.23 M": counts of parameters and MACs in a tile.
    function count(n) {
        if (n === undefined || n === null) return "–";
        if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
        if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
        if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
        return "" + n;
    }
    function percent(x, digits) {
        return (x === undefined || x === null || x < 0) ? "–" : x.toFixed(digits === undefined ? 1 : digits) + " %";
    }
}
