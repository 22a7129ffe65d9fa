# The engine tests also carry the label "engine" (tools/sanitize.sh tsan runs them).
filesync_add_test(NAME tst_reconciler SOURCES tst_reconciler.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_chunker SOURCES tst_chunker.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_journal SOURCES tst_journal.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_scanner SOURCES tst_scanner.cpp LIBS filesync_engine LABELS unit engine)
filesync_add_test(NAME tst_changeaggregator SOURCES tst_changeaggregator.cpp LIBS filesync_engine LABELS unit engine)
# The engine against the real server core, in-process on 127.0.0.1.
if(TARGET filesync_server_core)
    filesync_add_test(NAME tst_engine SOURCES tst_engine.cpp LIBS filesync_engine filesync_server_core LABELS unit engine
        TIMEOUT 120)
endif()
if(TARGET filesync_test_support)
    filesync_add_test(NAME tst_blockwriter SOURCES tst_blockwriter.cpp LIBS filesync_test_support LABELS unit engine)
    filesync_add_test(NAME tst_downloader SOURCES tst_downloader.cpp LIBS filesync_test_support LABELS unit engine
        TIMEOUT 300)
endif()
if(TARGET filesync_test_support)
    filesync_add_test(NAME tst_uploader SOURCES tst_uploader.cpp LIBS filesync_test_support LABELS unit engine
        TIMEOUT 300)
endif()
