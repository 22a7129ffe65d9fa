#pragma once

#include <QByteArray>
#include <QSqlDatabase>
#include <QString>

struct sqlite3;
struct sqlite3_stmt;

namespace filesync {

// One statement prepared once on the sqlite3 connection under a QSQLITE QSqlDatabase, for
// the statements run per file and per block (the server's file table and proofs, the
// client's journal). Why not QSqlQuery there: in Qt 6.4 every QSqlQuery::bindValue()
// formats a placeholder name (":%1") and hashes it, every prepare() parses the SQL again
// and every exec() rebuilds a QVariant cache: a third of the server's CPU on 20,000 small
// files, and of the uploading client's (docs/architecture.md). Runs inside the
// transactions QSqlDatabase opens, on the same connection. Used on the thread of that
// connection; owned by whoever owns the connection, and finalized before it closes.
class SqliteStatement
{
public:
    SqliteStatement(const QSqlDatabase &db, const char *sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement &) = delete;
    SqliteStatement &operator=(const SqliteStatement &) = delete;

    bool isValid() const { return m_statement != nullptr; }
    // Binds are 1-based, as in SQL's ?1, ?2.
    void bind(int index, qint64 value);
    void bind(int index, const QString &text); // a null QString binds as NULL
    void bind(int index, const QByteArray &blob); // always a blob (empty for a null one), as QSqlQuery did
    // Steps once: true with a row to read, false when done or failed (see failed()).
    bool next();
    bool failed() const { return m_failed; }
    qint64 int64(int column) const;
    QString text(int column) const; // NULL reads as a null QString
    QByteArray blob(int column) const;
    // Ready for the next use: clears the row, the bindings and the failure.
    void reset();
    QString errorMessage() const; // of the last failure, for logs (never bound values)

private:
    sqlite3 *m_db = nullptr;
    sqlite3_stmt *m_statement = nullptr;
    bool m_failed = false;
    QString m_error;
};

} // namespace filesync
