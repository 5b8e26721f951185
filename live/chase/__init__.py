"""The chase maths: projection between mats, gaps, margins, catches, the snapshot."""
