import QtQuick
import QtTest
import Quantscope
import Quantscope.Bridge

// The Tune page on the real sample: empty until the sweep, then the table; its buttons change
// every layer's width and the page's totals follow; Measure shows the measured result, and a
// changed width marks it as for other widths.
Item {
    width: 1100
    height: 700

    TunePage { id: page; anchors.fill: parent }
    SignalSpy { id: analysed; target: Workbench.analyze; signalName: "resultChanged" }
    SignalSpy { id: measured; target: Workbench.tune; signalName: "resultChanged" }

    TestCase {
        name: "TunePage"
        when: windowShown

        function test_tune() {
            verify(!page.hasTable)
            page.run()  // without a sweep, Run analyzes
            analysed.wait(300000)
            tryVerify(() => page.hasTable, 5000)
            compare(page.totals.layers, 5)
            page.tune.setAllBits(4)
            compare(page.totals.averageBits, 4)
            const kl4 = page.totals.predictedKl
            page.tune.setAllBits(8)
            verify(page.totals.predictedKl < kl4, "8 bits predict less loss than 4")
            verify(page.totals.bytes > 0 && page.totals.bytes < page.totals.fp32Bytes)
            page.tune.setAllBits(4)
            page.run()
            measured.wait(120000)
            tryVerify(() => page.hasMeasured, 5000)
            verify(!page.measured.stale)
            verify(page.measured.kl > 0)
            page.tune.setBits(0, 8)
            verify(page.measured.stale)
        }
    }
}
