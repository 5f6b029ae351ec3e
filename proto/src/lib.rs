//! The gRPC contract `contactscore.v1`. A placeholder until the server issue generates code from
//! `proto/contactscore/v1/*.proto`; kept in the workspace so the layout is fixed from day one.
