# The real SyncServer over real sockets on 127.0.0.1, probed by hand (RawClient).
filesync_add_test(NAME tst_server SOURCES tst_server.cpp privatemodes.h
    LIBS filesync_server_core filesync_test_rawclient LABELS integration)
filesync_add_test(NAME tst_server_commits SOURCES tst_server_commits.cpp
    LIBS filesync_server_core filesync_test_rawclient LABELS integration)
filesync_add_test(NAME tst_server_relay SOURCES tst_server_relay.cpp
    LIBS filesync_server_core filesync_test_rawclient LABELS integration)
filesync_add_test(NAME tst_server_budgets SOURCES tst_server_budgets.cpp
    LIBS filesync_server_core filesync_test_rawclient LABELS integration)
