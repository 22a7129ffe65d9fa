#pragma once

#include "testtree.h"

#include <QTest>

// Waits (bounded, polling) until two folders hold the same tree, and prints the
// difference if they never do.
#define QTRY_TREES_EQUAL_WITH_TIMEOUT(a, b, timeout)                                                                   \
    QTRY_VERIFY2_WITH_TIMEOUT(filesync::test::treeState(a) == filesync::test::treeState(b),                            \
        qPrintable(filesync::test::treeDiff(filesync::test::treeState(a), filesync::test::treeState(b))), timeout)
#define QTRY_TREES_EQUAL(a, b) QTRY_TREES_EQUAL_WITH_TIMEOUT(a, b, 15000)
