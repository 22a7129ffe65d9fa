#include "sqlitestatement.h"

#include <QLoggingCategory>
#include <QSqlDriver>
#include <QVariant>

#include <sqlite3.h>

namespace filesync {

namespace {
Q_LOGGING_CATEGORY(lcSqlite, "filesync.sqlite", QtInfoMsg)

sqlite3 *handleOf(const QSqlDatabase &db)
{
    const QVariant handle = db.driver() ? db.driver()->handle() : QVariant();
    if (!handle.isValid() || qstrcmp(handle.typeName(), "sqlite3*") != 0)
        return nullptr;
    return *static_cast<sqlite3 *const *>(handle.constData());
}
} // namespace

SqliteStatement::SqliteStatement(const QSqlDatabase &db, const char *sql)
    : m_db(handleOf(db))
{
    if (!m_db) {
        m_error = QStringLiteral("not an open SQLite connection");
        return;
    }
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &m_statement, nullptr) != SQLITE_OK) {
        m_error = QString::fromUtf8(sqlite3_errmsg(m_db));
        qCWarning(lcSqlite) << "cannot prepare a statement:" << m_error;
        sqlite3_finalize(m_statement);
        m_statement = nullptr;
    }
}

SqliteStatement::~SqliteStatement()
{
    sqlite3_finalize(m_statement);
}

void SqliteStatement::bind(int index, qint64 value)
{
    sqlite3_bind_int64(m_statement, index, value);
}

void SqliteStatement::bind(int index, const QString &text)
{
    if (text.isNull()) {
        sqlite3_bind_null(m_statement, index);
        return;
    }
    sqlite3_bind_text16(m_statement, index, text.utf16(), int(text.size() * 2), SQLITE_TRANSIENT);
}

void SqliteStatement::bind(int index, const QByteArray &blob)
{
    sqlite3_bind_blob(m_statement, index, blob.constData(), int(blob.size()), SQLITE_TRANSIENT);
}

bool SqliteStatement::next()
{
    if (!m_statement || m_failed)
        return false;
    const int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW)
        return true;
    if (rc != SQLITE_DONE) {
        m_failed = true;
        m_error = QString::fromUtf8(sqlite3_errmsg(m_db));
    }
    return false;
}

qint64 SqliteStatement::int64(int column) const
{
    return sqlite3_column_int64(m_statement, column);
}

QString SqliteStatement::text(int column) const
{
    if (sqlite3_column_type(m_statement, column) == SQLITE_NULL)
        return QString();
    const auto *data = static_cast<const char16_t *>(sqlite3_column_text16(m_statement, column));
    return QString(reinterpret_cast<const QChar *>(data), sqlite3_column_bytes16(m_statement, column) / 2);
}

QByteArray SqliteStatement::blob(int column) const
{
    const auto *data = static_cast<const char *>(sqlite3_column_blob(m_statement, column));
    return QByteArray(data, sqlite3_column_bytes(m_statement, column));
}

void SqliteStatement::reset()
{
    if (!m_statement)
        return;
    sqlite3_reset(m_statement);
    sqlite3_clear_bindings(m_statement);
    m_failed = false;
}

QString SqliteStatement::errorMessage() const
{
    return m_error;
}

} // namespace filesync
