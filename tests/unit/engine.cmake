# The engine tests also carry the label "engine" (tools/sanitize.sh tsan runs them). Those
# that need a server are in tests/integration.
filesync_add_test(NAME tst_reconciler SOURCES tst_reconciler.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_chunker SOURCES tst_chunker.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_journal SOURCES tst_journal.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_scanner SOURCES tst_scanner.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_changeaggregator SOURCES tst_changeaggregator.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_localblockcopier SOURCES tst_localblockcopier.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_durablebatch SOURCES tst_durablebatch.cpp LIBS filesync_engine LABELS unit engine)
if(TARGET filesync_test_support)
    filesync_add_test(NAME tst_blockwriter SOURCES tst_blockwriter.cpp LIBS filesync_test_support LABELS unit engine)
endif()
