// The words the generator draws from: person names, courses, assignment titles and descriptions,
// submission types, attendance statuses, letter grades, and how each source system spells its states.

/// A name as displayed, and the ASCII letters and digits of it that logins are made of.
struct Name {
    let display: String
    let login: String
    init(_ display: String) {
        self.display = display
        var s = ""
        for ch in display.lowercased() {
            switch ch {
            case "á", "à", "ä", "â": s.append("a")
            case "é", "è", "ë", "ê": s.append("e")
            case "í", "ï", "î": s.append("i")
            case "ó", "ö", "ô": s.append("o")
            case "ú", "ü": s.append("u")
            case "ñ": s.append("n")
            case "ç": s.append("c")
            default: if ch.isASCII && (ch.isLetter || ch.isNumber) { s.append(ch) }
            }
        }
        login = s
    }
}

enum Vocabulary {
    static let firstNames: [Name] = [
        "Lisa", "Fannie", "Robert", "Kyle", "Maria", "José", "Zoë", "Aaliyah", "Liam", "Noah", "Olivia", "Emma",
        "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail", "Ethan", "Mason", "Logan",
        "Lucas", "Jackson", "Aiden", "Elijah", "James", "Benjamin", "Sebastian", "Mateo", "Daniel", "Henry",
        "Alexander", "Chloé", "Mei", "Hiroshi", "Priya", "Arjun", "Fatima", "Omar", "Yusuf", "Amara", "Kwame",
        "Ngozi", "Siobhán", "Björn", "Renée", "François", "Ximena", "Camila", "Valentina", "Diego", "Santiago",
        "Anaïs", "Leilani", "Keanu", "Dmitri", "Anastasia", "Ji-woo", "Mary Ann", "Jean-Luc",
    ].map(Name.init)
    static let lastNames: [Name] = [
        "Woods", "Medina", "McKee", "Hughes", "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller",
        "Davis", "Rodríguez", "Martínez", "Hernández", "López", "González", "Wilson", "Anderson", "Thomas",
        "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark",
        "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
        "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
        "Roberts", "O'Brien", "D'Angelo", "Van der Berg", "Smith-Jones", "Okafor", "Kowalski", "Yamamoto",
    ].map(Name.init)

    struct Course { let code: String; let name: String; let description: String }
    static let courses: [Course] = [
        Course(code: "ALG-1", name: "Algebra I", description: "Linear equations, inequalities and functions."),
        Course(code: "GEO-1", name: "Geometry", description: "Proofs, congruence, similarity and \"real world\" modeling."),
        Course(code: "ENG-1", name: "English/Language Arts I (9th grade)", description: "Reading, writing, speaking and listening."),
        Course(code: "ENG-2", name: "English II", description: "World literature: \"The Odyssey\", \"Things Fall Apart\" and more."),
        Course(code: "BIO-1", name: "Biology", description: "Cells, genetics, evolution and ecology; weekly labs."),
        Course(code: "CHM-1", name: "Chemistry", description: "Matter, reactions and stoichiometry."),
        Course(code: "PHY-1", name: "Physics", description: "Motion, forces, energy and waves."),
        Course(code: "USH-1", name: "U.S. History", description: "From Reconstruction to the present."),
        Course(code: "WH-1", name: "World History", description: "Ancient civilizations to the modern era."),
        Course(code: "GOV-1", name: "Government", description: "Civics, the Constitution and \"how a bill becomes a law\"."),
        Course(code: "SPA-1", name: "Spanish I", description: "Introducción al español: vocabulario y gramática."),
        Course(code: "FRE-1", name: "French I", description: "Introduction au français."),
        Course(code: "ART-1", name: "Art I", description: "Drawing, painting, sculpture."),
        Course(code: "CSP-1", name: "AP Computer Science Principles", description: "Programming, data and the internet; the \"Create\" performance task."),
        Course(code: "PE-1", name: "Physical Education", description: "Fitness, team sports and health."),
        Course(code: "MUS-1", name: "Concert Band", description: "Ensemble performance, including some evening concerts."),
        Course(code: "PRE-CAL", name: "Pre-Calculus", description: "Functions, trigonometry and limits."),
        Course(code: "ECO-1", name: "Economics", description: "Micro- and macroeconomics, personal finance."),
    ]

    /// `#` is replaced by the assignment's number.
    static let assignmentTitles = [
        "Chapter # review", "Quiz #", "Unit # test", "Homework #", "Reading response #",
        "Lab #: \"Observation\" report", "Essay draft #, peer review", "Project # - research, outline and sources",
        "Discussion #: what did you learn?", "Exit ticket #", "Vocabulary, set #", "Practice problems #",
    ]
    static let assignmentDescriptions = [
        "", "Complete the exercises at the end of the chapter. Show your work.",
        "Read the article \"Why Sleep Matters\" and write a one-page response.",
        "Post a screenshot of your results, then reply to two classmates.",
        "Answer questions 1-10, 12, and 15.\nSubmit everything as a single PDF.",
        "Use the rubric \"Argument, Evidence, Reasoning\" (AER) to assess your own work.",
        "Watch the video, take notes, and bring two questions to class.", "",
    ]
    static let submissionTypes = [
        "online_upload", "online_upload", "online_upload", "['online_text_entry', 'online_upload']",
        "['online_text_entry', 'online_upload']", "online_quiz", "online_quiz", "discussion_topic",
        "['online_url', 'online_upload', 'media_recording']", "online_text_entry", "basic_lti_launch",
    ]
    static let maxPoints = [10, 20, 25, 50, 100, 100]
    static let attendanceStatuses = ["Unexcused", "Excused", "Tardy", "Early departure"]
    /// The assignment categories a source system uses (repeated ones are drawn more often).
    static func assignmentCategories(for system: String) -> [String] {
        switch system {
        case "Schoology": return ["Assignment", "Assignment", "Discussion", "Assessment"]
        case "Google": return ["Assignment", "Assignment", "SHORT_ANSWER_QUESTION", "MULTIPLE_CHOICE_QUESTION"]
        default: return ["Assignment"]
        }
    }

    /// The letter grade of a score in percent.
    static func letter(percent p: Int) -> String {
        switch p {
        case 93...: return "A"
        case 90..<93: return "A-"
        case 87..<90: return "B+"
        case 83..<87: return "B"
        case 80..<83: return "B-"
        case 77..<80: return "C+"
        case 73..<77: return "C"
        case 70..<73: return "C-"
        case 67..<70: return "D+"
        case 60..<67: return "D"
        default: return "F"
        }
    }
}

/// Submission states, spelled per source system as its descriptors spell them.
enum SubmissionState: Int {
    case graded, late, missing, submitted, upcoming

    func text(for system: String) -> String {
        switch system {
        case "Schoology":
            return ["on-time", "late", "missing", "draft", "Upcoming"][rawValue]
        case "Google":
            return ["RETURNED", "LATE", "MISSING", "TURNED_IN", "NEW"][rawValue]
        default:
            return ["graded", "late", "missing", "on-time", "Upcoming"][rawValue]
        }
    }
}

extension String {
    /// The title template with each `#` replaced by `n`.
    func replacingHash(with n: Int) -> String {
        var s = ""
        for ch in self {
            if ch == "#" { s += String(n) } else { s.append(ch) }
        }
        return s
    }
}
