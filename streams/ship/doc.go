// Package ship ships each ended session's recording from the transcript stream to object
// storage: SESSION_ID.cast (asciicast v2), SESSION_ID.log (plain text) and SESSION_ID.json
// (metadata), acknowledging only once all three are stored.
package ship
