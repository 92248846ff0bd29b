import QtQuick
import Quantscope
import QtQuick.Controls
import QtQuick.Layouts

// A label above a combo box; `values` are what the engine gets, `model` what the user reads.
ColumnLayout {
    id: root
    property string label
    property alias model: combo.model
    property var values: []
    property alias currentIndex: combo.currentIndex
    readonly property var value: values.length > combo.currentIndex ? values[combo.currentIndex] : combo.currentText
    // Shows `v` (one of `values`, or of `model` when there are no values); unknown: unchanged.
    function select(v) {
        const i = values.length > 0 ? values.indexOf(v) : combo.model.indexOf(v)
        if (i >= 0) combo.currentIndex = i
    }
    spacing: 2
    Label { text: root.label; color: Theme.muted }
    ComboBox { id: combo; Layout.fillWidth: true }
}
