#pragma once

#include <QLoggingCategory>

// The tray app's logging category ("filesync.ui"); defined in trayapplication.cpp.
Q_DECLARE_LOGGING_CATEGORY(lcUi)
