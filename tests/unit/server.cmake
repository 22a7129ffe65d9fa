# Server tests: the real SyncServer over real sockets, and its stores on their own.
filesync_add_test(NAME tst_server SOURCES tst_server.cpp tst_server_client.h LIBS filesync_server_core LABELS unit)
filesync_add_test(NAME tst_server_commits SOURCES tst_server_commits.cpp tst_server_client.h
    LIBS filesync_server_core LABELS unit)
filesync_add_test(NAME tst_server_metadatastore SOURCES tst_server_metadatastore.cpp
    LIBS filesync_server_core LABELS unit)
filesync_add_test(NAME tst_server_blockstore SOURCES tst_server_blockstore.cpp LIBS filesync_server_core LABELS unit)
if(TARGET filesync-server)
    filesync_add_test(NAME tst_server_binary SOURCES tst_server_binary.cpp tst_server_client.h
        LIBS filesync_protocol LABELS process ENVIRONMENT "FILESYNC_SERVER_BIN=$<TARGET_FILE:filesync-server>")
    add_dependencies(tst_server_binary filesync-server)
endif()
filesync_add_test(NAME tst_server_relay SOURCES tst_server_relay.cpp tst_server_client.h
    LIBS filesync_server_core LABELS unit)
filesync_add_test(NAME tst_server_budgets SOURCES tst_server_budgets.cpp tst_server_client.h
    LIBS filesync_server_core LABELS unit)
