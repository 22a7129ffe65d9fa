# The engine and its parts against the real server core, in-process on 127.0.0.1. They
# also carry the label "engine" (tools/sanitize.sh tsan runs them).
if(TARGET filesync_server_core)
    filesync_add_test(NAME tst_engine SOURCES tst_engine.cpp privatemodes.h
        LIBS filesync_engine filesync_server_core filesync_test_rawclient LABELS integration engine TIMEOUT 120)
endif()
if(TARGET filesync_test_support)
    filesync_add_test(NAME tst_downloader SOURCES tst_downloader.cpp LIBS filesync_test_support
        LABELS integration engine TIMEOUT 300)
    filesync_add_test(NAME tst_uploader SOURCES tst_uploader.cpp LIBS filesync_test_support
        LABELS integration engine TIMEOUT 300)
endif()
