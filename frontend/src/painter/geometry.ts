// Plain geometry shared by the painter modules. Kept separate so the label-map code does not
// depend on the viewport code, or the other way round.

/** A position, in whichever space the caller says (screen CSS pixels or image pixels). */
export interface Point {
  x: number;
  y: number;
}

/** An axis-aligned rectangle: (x, y) is the top-left corner; width and height are never negative. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
