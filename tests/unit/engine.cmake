filesync_add_test(NAME tst_reconciler SOURCES tst_reconciler.cpp LIBS filesync_engine LABELS unit)
filesync_add_test(NAME tst_chunker SOURCES tst_chunker.cpp LIBS filesync_engine LABELS unit)
filesync_add_test(NAME tst_journal SOURCES tst_journal.cpp LIBS filesync_engine LABELS unit)
filesync_add_test(NAME tst_scanner SOURCES tst_scanner.cpp LIBS filesync_engine LABELS unit)
